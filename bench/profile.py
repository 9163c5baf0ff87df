"""Summarise a py-spy profile (``--format raw``: collapsed stacks) of the Tocsin server.

``bench/ingest.py --profile DIR`` records one file per measured phase; this prints, as shares of
all samples (py-spy drops idle samples, so 100 % is the time the server's Python threads were
running or waiting for the GIL):

* self time by function (the innermost Python frame; time inside a C extension, such as
  orjson, asyncpg's Cython protocol or the httptools parser, counts for the Python function
  that called it; C code that the event loop calls directly, such as uvloop's socket I/O and
  asyncpg's protocol decoding PostgreSQL's answers, counts as ``Runner.run``),
* cumulative time by function (the sample has the function anywhere on its stack),
* self and cumulative time by area (each sample counts once per area on its stack): the
  project's packages (``bot.alerts``, ``adapters``, …), each library (``sqlalchemy``,
  ``asyncpg``, ``structlog``, ``uvicorn``, …) and the standard
  library (``asyncio``, ``json``, …).

    .venv/bin/python -m bench.profile /tmp/prof/postgres-50-tocsin.txt [--top 25] [--match bot]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")
_ROOTS = {"<frozen runpy>", "threading", "stdlib.threading"}
"""Areas of a stack's outermost frame when it starts at the process's or a thread's start."""
_SKIP = re.compile(r"^(process \d+|thread \(0x[0-9A-Fa-f]+\))")


_ROOT = str(Path(__file__).resolve().parent.parent) + "/"
"""The project's folder, wherever it is checked out: its frames are named relative to it."""


def short_path(path: str) -> str:
    for marker in ("site-packages/", _ROOT):
        if marker in path:
            return path.split(marker, 1)[1]
    match = re.search(r"/python3\.\d+/(.*)$", path)
    if match:
        return "stdlib/" + match.group(1)
    return path


def area(path: str) -> str:
    """The package a frame belongs to: `bot.alerts`, `sqlalchemy`, `stdlib.asyncio`, ..."""
    parts = path.removesuffix(".py").split("/")
    if parts[0] == "stdlib":
        return "stdlib." + (parts[1] if len(parts) > 1 else "?")
    if parts[0] in ("bot", "adapters", "commands", "bench"):
        return f"{parts[0]}.{parts[1]}" if len(parts) > 1 else parts[0]
    return parts[0].split(".")[0]


def parse(text: str) -> Iterator[tuple[list[tuple[str, str]], int]]:
    """(stack of (function key, area), outermost first; sample count) per line."""
    for line in text.splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not stack_text or not count.isdigit():
            continue
        frames = []
        for frame in stack_text.split(";"):
            if _SKIP.match(frame):
                continue
            match = _FRAME.match(frame)
            if match is None:
                frames.append((frame, "?"))
                continue
            path = short_path(match["path"])
            frames.append((f"{match['func']} ({path})", area(path)))
        if frames:
            yield frames, int(count)


def summarise(text: str, top: int, match: str | None) -> Iterator[str]:
    self_fn: Counter[str] = Counter()
    cum_fn: Counter[str] = Counter()
    self_area: Counter[str] = Counter()
    cum_area: Counter[str] = Counter()
    total = detached = 0
    for frames, count in parse(text):
        total += count
        if frames[0][1] not in _ROOTS:
            detached += count
        self_fn[frames[-1][0]] += count
        self_area[frames[-1][1]] += count
        for name in {f for f, _ in frames}:
            cum_fn[name] += count
        for name in {a for _, a in frames}:
            cum_area[name] += count
    if not total:
        yield "no samples"
        return
    yield f"{total:,} samples"
    if detached:
        yield (
            f"{100 * detached / total:.1f} % of them in stacks detached from the event loop's: "
            "code SQLAlchemy's asyncio layer runs in a greenlet (its sync engine, statement "
            "compilation and result handling); their async callers' cumulative shares leave "
            "them out"
        )

    def rows(title: str, counter: Counter[str], n: int) -> Iterator[str]:
        yield ""
        yield title
        shown = 0
        for name, count in counter.most_common():
            if match and match not in name:
                continue
            yield f"  {100 * count / total:5.1f} %  {name}"
            shown += 1
            if shown >= n:
                break

    yield from rows("self time by area", self_area, top)
    yield from rows("cumulative time by area", cum_area, top)
    yield from rows("self time by function", self_fn, top)
    yield from rows("cumulative time by function", cum_fn, top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile", type=Path, help="py-spy record --format raw output")
    parser.add_argument("--top", type=int, default=25, help="rows per list")
    parser.add_argument("--match", default=None, help="only functions/areas containing this")
    args = parser.parse_args(argv)
    for line in summarise(args.profile.read_text(), args.top, args.match):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
