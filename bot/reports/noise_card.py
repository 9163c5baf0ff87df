"""The noise report as a card: one section per part of the report, each line with its
suggestion, in the reader's language and zone."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.i18n import t
from bot.model import Badge, Card, Section, Tone
from bot.reports.noise_format import duration, scope, sections, title, when
from bot.reports.noise_model import NoiseReport

LINES = 5
"""Lines shown per section; the rest are counted (the CLI has them all)."""


def noise_card(report: NoiseReport, ref: str, lang: str, tz: str) -> Card:
    parts = []
    for name, items in sections(report, lang).items():
        if not items:
            continue
        lines = [_line(name, item, lang, tz) for item in items[:LINES]]
        if len(items) > LINES:
            lines.append(t("report.noise.more", lang, n=len(items) - LINES))
        parts.append(Section(t(f"report.noise.section.{name}", lang), tuple(lines)))
    body = scope(report, lang)
    if not parts:
        body = f"{body}\n{t('report.noise.quiet', lang)}"
    days = max(1, round((report.until - report.since) / timedelta(days=1)))
    status = t("report.noise.status", lang)
    return Card(
        ref=ref,
        title=title(report, lang, tz),
        tier=None,
        status="report",
        body=body,
        sections=tuple(parts),
        footer=t("report.noise.footer", lang, command=f"tocsin report noise --since {days}d"),
        badge=Badge(status, Tone.WORKING),
    )


def _line(name: str, item: dict[str, object], lang: str, tz: str) -> str:
    values = {k: "-" if v is None or v == "" else v for k, v in item.items()}
    values["do"] = item["suggestion_text"]
    if name == "resolved_unacked":
        values["median"] = duration(_int(item["median_open_seconds"]), lang)
    elif name == "tiers":
        values["mtta"] = duration(_int(item["mtta_seconds"]), lang)
        values["mttr"] = duration(_int(item["mttr_seconds"]), lang)
    elif name == "stale_reviews":
        values["oldest"] = when(datetime.fromisoformat(str(item["oldest"])), tz)
    return t(f"report.line.{name}", lang, **values)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None
