"""`tocsin report noise` and `tocsin report fairness`: the reports from the command line, as
Markdown, CSV or JSON (their schemas: docs/reports.md and docs/fairness.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.settings import Settings, load_settings
from bot.settings.durations import parse_duration

FORMATS = ("md", "csv", "json")


def add_parser(sub: Any, config_help: str) -> None:
    report = sub.add_parser("report", help="reports: alert noise, on-call fairness")
    kinds = report.add_subparsers(dest="report_cmd", required=True, metavar="REPORT")
    noise = kinds.add_parser(
        "noise",
        help="where the alerts and pages come from, with a suggestion per line",
        description="Top alerts, flapping alerts, alerts resolved before anyone acknowledged "
        "or never acknowledged, pages at night in each person's time zone, MTTA and MTTR "
        "per tier, and reviews with follow-ups open for over a week.",
    )
    noise.add_argument("--service", action="append", default=[], help="only this service")
    noise.add_argument("--team", help="only the services owned by this group's people")
    fairness = kinds.add_parser(
        "fairness",
        help="hours on call, off-hours hours, pages, swaps and overrides per person",
    )
    fairness.add_argument("--schedule", action="append", default=[], help="only this schedule")
    for p in (noise, fairness):
        p.add_argument("--config", required=True, help=config_help)
        p.add_argument("--since", default="7d", help="how far back (default 7d)")
        p.add_argument("--until", metavar="TIME", help="the period's end (default: now)")
        p.add_argument("--format", choices=FORMATS, default="md", help="md (default), csv, json")
        p.add_argument("--lang", choices=("en", "zh"), help="default: tocsin.language")
        p.add_argument("--out", help="a file to write (default: standard output)")


def dispatch(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    try:
        until = _until(args.until)
        since = until - parse_duration(args.since)
    except ValueError as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        return 2
    text = asyncio.run(_text(settings, args, since, until))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _until(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"--until: give the time with its offset, e.g. {text}+08:00")
    return when


async def _text(
    settings: Settings, args: argparse.Namespace, since: datetime, until: datetime
) -> str:
    from bot.store.db import Database

    lang = args.lang or settings.tocsin.language
    db = Database(settings.database.url)
    try:
        if args.report_cmd == "noise":
            from bot.reports.noise import noise_text

            return await noise_text(
                settings,
                db,
                since=since,
                until=until,
                services=tuple(args.service),
                team=args.team,
                fmt=args.format,
                lang=lang,
            )
        from bot.reports.fairness import fairness_text

        return await fairness_text(
            settings,
            db,
            since=since,
            until=until,
            schedules=tuple(args.schedule),
            fmt=args.format,
            lang=lang,
        )
    finally:
        await db.dispose()
