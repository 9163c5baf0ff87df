"""The fairness report written out: Markdown for people, CSV and JSON for spreadsheets and
scripts (their fields are a contract: docs/fairness.md), and the short form said in chat."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.deploys.moments import Zone, stamp
from bot.i18n import t
from bot.reports.fairness_hours import WORK_END, WORK_START

if TYPE_CHECKING:
    from bot.reports.fairness import Fairness, PersonTally

FIELDS = (
    "user",
    "name",
    "time_zone",
    "on_call_hours",
    "off_hours_hours",
    "pages",
    "pages_off_hours",
    "incidents",
    "swaps",
    "covers",
    "takes",
    "given_away",
    "overrides",
)
"""The columns of the CSV and the keys of each person in the JSON, in order."""

HEADINGS = {
    "name": "fairness.col.name",
    "time_zone": "fairness.col.time_zone",
    "on_call_hours": "fairness.col.on_call_hours",
    "off_hours_hours": "fairness.col.off_hours_hours",
    "pages": "fairness.col.pages",
    "pages_off_hours": "fairness.col.pages_off_hours",
    "incidents": "fairness.col.incidents",
    "swaps": "fairness.col.swaps",
    "covers": "fairness.col.covers",
    "takes": "fairness.col.takes",
    "given_away": "fairness.col.given_away",
    "overrides": "fairness.col.overrides",
}
"""The Markdown table's column headings: every field but the user id, as catalogue keys."""


def hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def record(person: PersonTally) -> dict[str, Any]:
    """One person as the CSV and JSON carry them."""
    return {
        "user": person.user,
        "name": person.name,
        "time_zone": person.zone,
        "on_call_hours": hours(person.on_call),
        "off_hours_hours": hours(person.off_hours),
        "pages": person.pages,
        "pages_off_hours": person.pages_off_hours,
        "incidents": len(person.incidents),
        "swaps": person.swaps,
        "covers": person.covers,
        "takes": person.takes,
        "given_away": person.given_away,
        "overrides": person.overrides,
    }


def csv_text(report: Fairness) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for person in report.people:
        row = record(person)
        row["on_call_hours"] = f"{row['on_call_hours']:.2f}"
        row["off_hours_hours"] = f"{row['off_hours_hours']:.2f}"
        writer.writerow(row)
    return out.getvalue()


def json_text(report: Fairness) -> str:
    body = {
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
        "schedules": list(report.schedules),
        "working_hours": {
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": WORK_START.strftime("%H:%M"),
            "end": WORK_END.strftime("%H:%M"),
        },
        "people": [record(p) for p in report.people],
    }
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


def _period(report: Fairness, lang: str, tz: Zone) -> str:
    return t(
        "fairness.period",
        lang,
        since=stamp(report.since, lang, tz),
        until=stamp(report.until, lang, tz),
        schedules=", ".join(report.schedules) or "-",
    )


def markdown(report: Fairness, lang: str, tz: Zone) -> str:
    columns = [t(key, lang) for key in HEADINGS.values()]
    lines = [f"# {t('fairness.title', lang)}", "", _period(report, lang, tz), ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for person in report.people:
        row = record(person)
        values = [row[name] for name in HEADINGS]
        lines.append("| " + " | ".join(_cell(v) for v in values) + " |")
    if not report.people:
        lines.append(t("fairness.nobody", lang))
    lines += ["", t("fairness.footnote", lang)]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|")


def chat_text(report: Fairness, lang: str, tz: Zone) -> str:
    """A few lines for a chat message: one per person, in the reader's language and zone."""
    lines = [t("fairness.title", lang), _period(report, lang, tz)]
    for person in report.people:
        lines.append(t("fairness.line", lang, **record(person)))
    if not report.people:
        lines.append(t("fairness.nobody", lang))
    lines.append(t("fairness.footnote", lang))
    return "\n".join(lines)


def render(report: Fairness, fmt: str, lang: str, tz: Zone) -> str:
    if fmt == "csv":
        return csv_text(report)
    if fmt == "json":
        return json_text(report)
    return markdown(report, lang, tz)
