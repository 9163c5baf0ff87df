"""The noise report written out: Markdown for people, CSV and JSON for tools (their schemas,
field by field, are in docs/reports.md). Column names and JSON keys are fixed English words
whatever the language; only titles, headers of the Markdown and suggestion texts are
translated."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.i18n import t
from bot.incidents.times import zone
from bot.reports.noise_model import NoiseReport, Suggestion

SECTIONS = (
    "top_alerts",
    "flapping",
    "resolved_unacked",
    "never_acked",
    "night_pages",
    "tiers",
    "stale_reviews",
)
COLUMNS: dict[str, tuple[str, ...]] = {
    "top_alerts": (
        "alert",
        "service",
        "tier",
        "incidents",
        "alerts",
        "pages",
        "resolved_unacked",
        "never_acked",
    ),
    "flapping": ("alert", "service", "incidents", "changes"),
    "resolved_unacked": ("alert", "service", "incidents", "by_monitoring", "median_open_seconds"),
    "never_acked": ("alert", "service", "tier", "incidents", "pages"),
    "night_pages": ("person", "time_zone", "pages", "night_pages", "low_tier_night_pages"),
    "tiers": ("tier", "incidents", "acked", "mtta_seconds", "resolved", "mttr_seconds"),
    "stale_reviews": ("incident_id", "run_id", "title", "service", "open_items", "oldest"),
}
"""Each section's fields, in the order the Markdown and the CSV show them."""
CSV_COLUMNS: tuple[str, ...] = (
    "section",
    *dict.fromkeys(c for cols in COLUMNS.values() for c in cols),
    "suggestion",
    "suggestion_text",
)
KEYS = (
    "report.noise.section.top_alerts",
    "report.noise.section.flapping",
    "report.noise.section.resolved_unacked",
    "report.noise.section.never_acked",
    "report.noise.section.night_pages",
    "report.noise.section.tiers",
    "report.noise.section.stale_reviews",
    "report.line.top_alerts",
    "report.line.flapping",
    "report.line.resolved_unacked",
    "report.line.never_acked",
    "report.line.night_pages",
    "report.line.tiers",
    "report.line.stale_reviews",
    "report.col.alert",
    "report.col.service",
    "report.col.tier",
    "report.col.incidents",
    "report.col.alerts",
    "report.col.pages",
    "report.col.resolved_unacked",
    "report.col.never_acked",
    "report.col.changes",
    "report.col.by_monitoring",
    "report.col.median_open_seconds",
    "report.col.person",
    "report.col.time_zone",
    "report.col.night_pages",
    "report.col.low_tier_night_pages",
    "report.col.acked",
    "report.col.mtta_seconds",
    "report.col.resolved",
    "report.col.mttr_seconds",
    "report.col.incident_id",
    "report.col.run_id",
    "report.col.title",
    "report.col.open_items",
    "report.col.oldest",
    "report.col.suggestion",
    "report.dur.hm",
    "report.dur.ms",
    "report.do.none",
    "report.do.add_for",
    "report.do.raise_threshold",
    "report.do.silence_label",
    "report.do.lower_tier",
    "report.do.check_escalation",
    "report.do.day_only",
    "report.do.share_load",
    "report.do.close_followups",
)
"""The catalogue keys built from a section, column or suggestion code above, named once here
so each stays findable in the code."""
_SECONDS = {"median_open_seconds", "mtta_seconds", "mttr_seconds"}


def suggestion_text(s: Suggestion, lang: str) -> str:
    return t(f"report.do.{s.code}", lang, field="for", **s.params)


def duration(seconds: int | None, lang: str) -> str:
    """``1h 05m`` / ``4m 10s`` (``1 小时 05 分`` / ``4 分 10 秒``); ``-`` for no value."""
    if seconds is None:
        return "-"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return t("report.dur.hm", lang, h=hours, m=f"{minutes:02d}")
    return t("report.dur.ms", lang, m=minutes, s=f"{secs:02d}")


def when(moment: datetime, tz: str) -> str:
    return moment.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M")


def title(report: NoiseReport, lang: str, tz: str) -> str:
    until = f"{when(report.until, tz)} {tz}"  # the zone once, after the period's end
    return t("report.noise.title", lang, since=when(report.since, tz), until=until)


def scope(report: NoiseReport, lang: str) -> str:
    if not report.services:
        return t("report.noise.scope.all", lang, n=report.incidents)
    names = ", ".join(s for s in report.services if s) or "-"
    return t("report.noise.scope.services", lang, services=names, n=report.incidents)


def sections(report: NoiseReport, lang: str) -> dict[str, list[dict[str, Any]]]:
    """Each section's items as in the JSON document, with their suggestion in words."""
    document = report.to_json()
    out: dict[str, list[dict[str, Any]]] = {}
    for name in SECTIONS:
        rows = getattr(report, name)
        out[name] = [
            item | {"suggestion_text": suggestion_text(row.suggestion, lang)}
            for item, row in zip(document[name], rows, strict=True)
        ]
    return out


def as_json(report: NoiseReport, lang: str, tz: str) -> str:
    document = report.to_json() | {"lang": lang} | sections(report, lang)
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def as_csv(report: NoiseReport, lang: str, tz: str) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, CSV_COLUMNS, restval="", extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for name, items in sections(report, lang).items():
        for item in items:
            writer.writerow(
                {k: "" if v is None else v for k, v in item.items()} | {"section": name}
            )
    return out.getvalue()


def as_markdown(report: NoiseReport, lang: str, tz: str) -> str:
    lines = [f"# {title(report, lang, tz)}", "", scope(report, lang), ""]
    night = t("report.noise.night_is", lang, start="22:00", end="07:00")
    for name, items in sections(report, lang).items():
        lines += [f"## {t(f'report.noise.section.{name}', lang)}", ""]
        if name == "night_pages":
            lines += [night, ""]
        if not items:
            lines += [t("report.noise.none", lang), ""]
            continue
        columns = COLUMNS[name]
        header = [t(f"report.col.{c}", lang) for c in columns] + [t("report.col.suggestion", lang)]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for item in items:
            cells = [_cell(c, item[c], lang, tz) for c in columns] + [item["suggestion_text"]]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _cell(column: str, value: Any, lang: str, tz: str) -> str:
    if column in _SECONDS:
        return duration(value, lang)
    if column == "oldest":
        return when(datetime.fromisoformat(value), tz)
    if value is None or value == "":
        return "-"
    return str(value).replace("|", "\\|")


FORMATTERS: dict[str, Callable[[NoiseReport, str, str], str]] = {
    "md": as_markdown,
    "csv": as_csv,
    "json": as_json,
}
