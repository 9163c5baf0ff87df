"""The commands `tocsin import <tool> --plan|--apply`, `tocsin import verify <tool|ical>` and
`tocsin oncall export`."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.migrate.flows import Origin, Request, held_from_ical, run_import, shadow
from bot.migrate.reader import ImportFailed
from bot.migrate.shape import when
from bot.migrate.vendor import NAMES, vendor
from bot.migrate.verify import Comparison, compare, report
from bot.settings import load_settings

CONFIG_HELP = "the YAML configuration file (see config/example.yaml)"
TOKEN_ENV = "TOCSIN_IMPORT_TOKEN"  # noqa: S105 (the variable's name, not a secret)
EPILOG = f"""\
examples:
  tocsin import pagerduty --config tocsin.yaml --plan            (token in ${TOKEN_ENV})
  tocsin import opsgenie --config tocsin.yaml --apply --url https://api.eu.opsgenie.com
  tocsin import oncall --config tocsin.yaml --from ./oncall-export --plan
  tocsin import verify pagerduty --config tocsin.yaml            (the coming 14 days)
  tocsin import verify ical --config tocsin.yaml --schedule primary --feed primary.ics

exit status: 0 done (verify: no differences), 1 the tool could not be read or verify found
differences, 2 wrong usage or configuration. Nothing is written unless --apply succeeds."""


def add_parsers(sub: Any, oncall_sub: Any) -> None:
    """`import` under the top-level commands and `export` under `oncall`."""
    imports = sub.add_parser(
        "import",
        help="move in from Opsgenie, Grafana OnCall or PagerDuty; verify in shadow mode",
        description="Import people, teams, schedules, escalation policies and routing from "
        "another on-call tool as a YAML file the configuration includes, or compare Tocsin's "
        "schedules with the old tool's (shadow mode).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tools = imports.add_subparsers(dest="import_cmd", required=True, metavar="TOOL")
    for name, title in zip(NAMES, ("Opsgenie", "Grafana OnCall", "PagerDuty"), strict=True):
        p = tools.add_parser(name, help=f"import from {title}")
        _source(p)
        mode = p.add_mutually_exclusive_group(required=True)
        mode.add_argument(
            "--plan", action="store_true", help="show what would change; write nothing"
        )
        mode.add_argument("--apply", action="store_true", help="write the file and include it")
        p.add_argument(
            "--out", help="the file to write (default: oncall-TOOL.yaml beside the configuration)"
        )
        p.add_argument("--replace", action="store_true", help="write over an earlier import's file")
        p.add_argument("--prefix", default="", help="put this before every imported name, e.g. pd-")
        p.add_argument(
            "--chat",
            action="append",
            default=[],
            metavar="PLATFORM:CHAT",
            help="where imported routes post (default: default_route's destinations)",
        )
        p.add_argument(
            "--as-of",
            metavar="TIME",
            help="the moment overrides are weighed against: those ended by then are left out "
            "(default: now)",
        )
    verify = tools.add_parser(
        "verify",
        help="compare Tocsin's schedules with the old tool's on-call, hour by hour",
        description="Shadow mode: who Tocsin's imported schedules put on call against the "
        "old tool's own on-call (its API, or a schedule's iCal feed), every hour of the period.",
    )
    verify.add_argument("tool", choices=(*NAMES, "ical"), help="the old tool, or ical")
    _source(verify)
    verify.add_argument(
        "--schedule",
        action="append",
        default=[],
        help="only this schedule (Tocsin name, the tool's id or its name); ical needs one",
    )
    verify.add_argument("--feed", help="ical: the feed, a file or an http(s) URL")
    verify.add_argument("--start", metavar="TIME", help="the first hour (default: the next hour)")
    verify.add_argument("--days", type=int, default=14, help="how many days (default 14)")
    verify.add_argument("--prefix", default="", help="the --prefix the import used")
    verify.add_argument("--out", help="the file the import wrote (default: oncall-TOOL.yaml)")

    export = oncall_sub.add_parser(
        "export", help="write the schedules and policies with every default made explicit"
    )
    export.add_argument("--config", required=True, help=CONFIG_HELP)
    export.add_argument("--out", help="a file to write (default: standard output)")


def _source(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help=CONFIG_HELP)
    p.add_argument("--url", help="the tool's API base URL (default: its public one)")
    p.add_argument("--token", help=f"the API token (default: ${TOKEN_ENV})")
    p.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="another request header, e.g. X-Grafana-URL:https://you.grafana.net",
    )
    p.add_argument(
        "--from",
        dest="folder",
        metavar="DIR",
        help="read the API's JSON from files laid out like its paths instead",
    )


def dispatch(args: argparse.Namespace) -> int:
    try:
        if args.cmd == "oncall":
            return _export(args)
        if args.import_cmd == "verify":
            return asyncio.run(_verify(args))
        return asyncio.run(_import(args))
    except ImportFailed as exc:
        print(f"tocsin: {exc} (nothing was changed)", file=sys.stderr)
        return 1


def _origin(args: argparse.Namespace) -> Origin:
    if args.folder and args.url:
        raise ImportFailed("give --url or --from, not both")
    headers = []
    for text in args.header:
        name, sep, value = text.partition(":")
        if not sep or not name.strip() or not value.strip():
            raise ImportFailed(f"--header {text!r}: write it as NAME:VALUE")
        headers.append((name.strip(), value.strip()))
    return Origin(
        url=args.url,
        token=args.token or os.environ.get(TOKEN_ENV),
        folder=args.folder,
        headers=tuple(headers),
    )


def _when(text: str | None, what: str, default: datetime) -> datetime:
    if text is None:
        return default
    given = when(text, what)
    if given.tzinfo is None:
        raise ImportFailed(f"{what}: give the time with its offset, e.g. {text}+08:00")
    return given


def _command(args: argparse.Namespace) -> str:
    """The import's command line for the file's header, without its token or headers."""
    words = ["tocsin", "import", args.import_cmd, "--config", args.config]
    for flag, value in (
        ("--url", args.url),
        ("--from", args.folder),
        ("--out", args.out),
        ("--prefix", args.prefix),
        ("--as-of", args.as_of),
        *(("--chat", chat) for chat in args.chat),
    ):
        if value:
            words += [flag, value]
    return " ".join(shlex.quote(word) for word in [*words, "--apply"])


def _out(args: argparse.Namespace, config: Path, tool: str) -> Path:
    return Path(args.out) if args.out else config.parent / f"oncall-{tool}.yaml"


async def _import(args: argparse.Namespace) -> int:
    tool = vendor(args.import_cmd)
    config = Path(args.config)
    request = Request(
        config=config,
        out=_out(args, config, tool.name),
        now=_when(args.as_of, "--as-of", datetime.now(UTC)),
        prefix=args.prefix,
        chats=tuple(args.chat),
        replace=args.replace,
    )
    return await run_import(
        tool, _origin(args), request, apply=args.apply, command=_command(args), say=print
    )


async def _verify(args: argparse.Namespace) -> int:
    if args.days < 1 or args.days > 90:
        raise ImportFailed("--days: between 1 and 90")
    config = Path(args.config)
    settings = load_settings(config)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = _when(args.start, "--start", hour)
    missing: list[str] = []
    if args.tool == "ical":
        results, title = await _verify_ical(args, settings, start), "iCal"
    else:
        tool = vendor(args.tool)
        title = tool.title
        results, missing = await shadow(
            tool,
            _origin(args),
            config,
            settings,
            start=start,
            days=args.days,
            out=_out(args, config, tool.name),
            prefix=args.prefix,
            wanted=args.schedule,
        )
    for comparison in results:
        print("\n".join(report(comparison, title)))
    for line in missing:
        print(line)
    if not results:
        print("Nothing compared.")
        return 1
    differing = sum(1 for c in results if c.differences)
    print(f"{len(results)} schedules compared, {differing} with differences.")
    return 1 if differing or missing else 0


async def _verify_ical(
    args: argparse.Namespace, settings: Any, start: datetime
) -> list[Comparison]:
    if len(args.schedule) != 1 or not args.feed:
        raise ImportFailed("verify ical needs one --schedule and its --feed")
    name = args.schedule[0]
    if name not in settings.schedules:
        raise ImportFailed(f"no schedule {name!r} in {args.config}")
    end = start + timedelta(days=args.days)
    held = held_from_ical(await _feed(args.feed), settings, start, end)
    schedule = settings.schedules[name]
    differences = compare(schedule, held, start, end, vendor="iCal")
    return [Comparison(name, f"iCal feed {args.feed}", schedule.time_zone, start, end, differences)]


async def _feed(where: str) -> str:
    if where.startswith(("http://", "https://")):
        try:
            async with httpx.AsyncClient(timeout=20) as client:
                response = await client.get(where)
        except httpx.HTTPError as exc:
            raise ImportFailed(f"cannot fetch the feed {where}: {exc}") from None
        if response.status_code != 200:
            raise ImportFailed(f"the feed {where} answered HTTP {response.status_code}")
        return response.text
    try:
        return await asyncio.to_thread(Path(where).read_text, encoding="utf-8")
    except OSError as exc:
        raise ImportFailed(f"{where}: cannot read the feed ({exc.strerror or exc})") from None


def _export(args: argparse.Namespace) -> int:
    from bot.migrate.export import export_text

    text = export_text(load_settings(args.config), args.config)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
