"""Following a build's console through ``logText/progressiveText?start=N``.

Jenkins answers the bytes from offset N on, ``X-Text-Size`` (the offset to ask from next) and
``X-More-Data: true`` while the build still writes. A `LogTail` keeps the offset and the last
lines, so each poll fetches only what is new; a new instance (after a restart) reads from 0.
"""

from __future__ import annotations

import re
from collections import deque

TAIL_LINES = 20
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class LogTail:
    def __init__(self, lines: int = TAIL_LINES) -> None:
        self.offset = 0
        self._count = lines
        self._lines: deque[str] = deque(maxlen=lines)
        self._partial = b""

    def feed(self, chunk: bytes, text_size: str | None) -> None:
        """Add the answer to ``?start=<offset>``; `text_size` is its ``X-Text-Size``."""
        size = int(text_size) if text_size and text_size.isdigit() else self.offset + len(chunk)
        if size < self.offset:  # the log was replaced: Jenkins sent it from the start
            self._lines.clear()
            self._partial = b""
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        self._lines.extend(_clean(line) for line in complete)
        self.offset = size

    def text(self) -> str:
        lines = list(self._lines)
        if self._partial:
            lines.append(_clean(self._partial))
        return "\n".join(lines[-self._count :])


def _clean(line: bytes) -> str:
    return _ANSI.sub("", line.decode("utf-8", errors="replace")).rstrip("\r")
