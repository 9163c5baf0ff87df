"""The fairness report over a generated history (four weeks, two daylight-saving changes),
against a minute-by-minute oracle; its CSV and JSON against the schema in docs/fairness.md."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.errors import UserError
from bot.reports.fairness import fairness_text
from bot.settings import parse_settings
from bot.store.db import Database
from tests.unit.reports.fairness_history import SINCE, UNTIL, config, generate, oracle, store

DOC = Path(__file__).parents[3] / "docs" / "fairness.md"


def documented(section: str) -> list[str]:
    """The field names of a table under `### section` in docs/fairness.md, in order."""
    text = DOC.read_text(encoding="utf-8").split(f"### {section}\n", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", text, flags=re.MULTILINE)


async def report(db: Database, fmt: str, schedules: tuple[str, ...] = (), lang: str = "en") -> str:
    settings = parse_settings(config(), env={})
    return await fairness_text(
        settings, db, since=SINCE, until=UNTIL, schedules=schedules, fmt=fmt, lang=lang
    )


@pytest.mark.parametrize("schedules", [(), ("db",), ("web",)])
async def test_json_matches_the_minute_by_minute_oracle(
    db: Database, schedules: tuple[str, ...]
) -> None:
    history = generate()
    await store(db, history)
    body = json.loads(await report(db, "json", schedules))
    expected = oracle(history, schedules or ("web", "db"))
    assert {p["user"]: p for p in body["people"]} == expected
    hours = [p["on_call_hours"] for p in body["people"]]
    assert hours == sorted(hours, reverse=True)
    assert body["schedules"] == list(schedules or ("web", "db"))
    assert (body["since"], body["until"]) == (SINCE.isoformat(), UNTIL.isoformat())


async def test_the_history_has_what_the_report_is_about(db: Database) -> None:
    """The generated history is not trivial: off-hours, pages, every kind of change."""
    people = oracle(generate(), ("web", "db")).values()
    for key in ("off_hours_hours", "pages_off_hours", "swaps", "covers", "takes", "overrides"):
        assert sum(p[key] for p in people) > 0, key
    assert sum(p["on_call_hours"] for p in people) == pytest.approx(2 * (4 * 7 * 24 - 1), 0.01)


async def test_csv_and_json_follow_the_documented_schema(db: Database) -> None:
    await store(db, generate())
    fields = documented("CSV")
    assert fields[:3] == ["user", "name", "time_zone"] and len(fields) == 13
    body = json.loads(await report(db, "json"))
    assert list(body) == documented("JSON")
    assert all(list(p) == fields for p in body["people"])
    assert body["working_hours"] == {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "18:00",
    }
    table = list(csv.reader(io.StringIO(await report(db, "csv"))))
    assert table[0] == fields
    for line, person in zip(table[1:], body["people"], strict=True):
        assert line[:3] == [person["user"], person["name"], person["time_zone"]]
        assert line[3:5] == [f"{person['on_call_hours']:.2f}", f"{person['off_hours_hours']:.2f}"]
        assert line[5:] == [str(person[f]) for f in fields[5:]]


async def test_markdown_is_a_table_in_the_readers_language(db: Database) -> None:
    history = generate()
    await store(db, history)
    expected = oracle(history, ("web", "db"))
    text = await report(db, "md", lang="zh")
    assert text.startswith("# 值班公平性报告")
    assert "| 人员 | 时区 | 值班小时 |" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "人员" not in line]
    assert len(rows) == len(expected)
    ann = next(r for r in rows if r.startswith("| Ann |"))
    assert f"| {expected['ann']['on_call_hours']:.2f} |" in ann
    assert "周一至周五 09:00–18:00" in text


async def test_an_unknown_schedule_is_refused(db: Database) -> None:
    with pytest.raises(UserError) as caught:
        await report(db, "md", ("nosuch",))
    assert caught.value.text_key == "oncall.unknown_schedule"


def test_the_command_line_writes_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw: dict[str, Any] = config()
    raw["database"] = {"url": f"sqlite+aiosqlite:///{tmp_path / 't.db'}"}
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["db", "upgrade", "--config", str(path)]) == 0
    capsys.readouterr()
    out = tmp_path / "fairness.csv"
    args = ["report", "fairness", "--config", str(path), "--since", "28d"]
    args += ["--until", UNTIL.isoformat(), "--schedule", "db", "--format", "csv"]
    assert main([*args, "--out", str(out)]) == 0
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    # No overrides stored: the Shanghai rotation alone, Cho and Dee a week in turn.
    hours = {row["user"]: row["on_call_hours"] for row in table}
    assert sum(float(h) for h in hours.values()) == 28 * 24
    assert set(hours) == {"cho", "dee"}
