"""The noise report over a generated history (four weeks, both DST changes of March 2026
inside): each number is counted again here, by brute force over the generated records."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.cli import main
from bot.reports.noise import noise_text
from bot.store.db import Database
from bot.store.migrate import upgrade
from tests.support import base_config, make_settings
from tests.unit.reports.noise_history import START, ZONES, Made, history, write

SINCE, UNTIL = START + timedelta(days=5), START + timedelta(days=28)
SETTINGS = make_settings(
    groups={"shop": ["bob"]},
    services={"orders": {"owner": "bob"}, "payments": {"owner": "alice"}, "storefront": {}},
)
REVIEWS = [
    (3, SINCE, False),  # open for over a week at UNTIL
    (3, SINCE + timedelta(days=1), False),
    (4, SINCE, True),  # done: not listed
    (5, UNTIL - timedelta(days=2), False),  # open, but not for a week yet
]
DOCUMENTED_CSV = (
    "section,alert,service,tier,incidents,alerts,pages,resolved_unacked,never_acked,changes,"
    "by_monitoring,median_open_seconds,person,time_zone,night_pages,low_tier_night_pages,"
    "acked,mtta_seconds,resolved,mttr_seconds,incident_id,run_id,title,open_items,oldest,"
    "suggestion,suggestion_text"
)


def in_period(made: list[Made], service: str | None = None) -> list[Made]:
    return [
        m for m in made if SINCE <= m.created < UNTIL and (service is None or m.service == service)
    ]


def night(when: datetime, person: str) -> bool:
    hour = when.astimezone(ZoneInfo(ZONES.get(person, "UTC"))).hour
    return hour >= 22 or hour < 7


async def report(db: Database, fmt: str = "json", **kw: Any) -> str:
    return await noise_text(SETTINGS, db, since=SINCE, until=UNTIL, fmt=fmt, lang="en", **kw)


@pytest.fixture
async def made(db: Database) -> list[Made]:
    records = history(START, weeks=5)
    await write(db, records, REVIEWS)
    return records


async def test_every_number_matches_a_count_of_the_history(db: Database, made: list[Made]) -> None:
    doc = json.loads(await report(db))
    mine = in_period(made)
    assert doc["incidents"] == len(mine)

    groups: dict[tuple[str, str], list[Made]] = defaultdict(list)
    for m in mine:
        groups[(m.alert, m.service)].append(m)
    top = {(a["alert"], a["service"]): a for a in doc["top_alerts"]}
    assert set(top) == set(groups)  # three alerts: all within the top ten
    for key, group in groups.items():
        assert top[key]["incidents"] == len(group)
        assert top[key]["alerts"] == 2 * len(group)
        assert top[key]["pages"] == sum(len(m.pages) for m in group)
        assert top[key]["tier"] == min(m.tier for m in group)

    unacked = {(r["alert"], r["service"]): r for r in doc["resolved_unacked"]}
    for key, group in groups.items():
        quiet = [m for m in group if m.resolved and not m.acked]
        assert unacked[key]["incidents"] == len(quiet)
        assert unacked[key]["by_monitoring"] == sum(1 for m in quiet if m.by == "monitoring")
        median = statistics.median((m.resolved - m.created).total_seconds() for m in quiet)  # type: ignore[operator]
        assert unacked[key]["median_open_seconds"] == round(median)

    never = {(n["alert"], n["service"]): n["incidents"] for n in doc["never_acked"]}
    expected_never = {
        k: sum(1 for m in g if not m.acked and not m.resolved) for k, g in groups.items()
    }
    assert never == {k: v for k, v in expected_never.items() if v}

    flaps = {(f["alert"], f["service"]): (f["incidents"], f["changes"]) for f in doc["flapping"]}
    expected_flaps = {}
    for key, group in groups.items():
        counted = [(m, sum(1 for c in m.changes if SINCE <= c < UNTIL)) for m in group]
        flapped = [(m, n) for m, n in counted if m.flapping or n >= 4]
        if flapped:
            expected_flaps[key] = (len(flapped), sum(n for _m, n in flapped))
    assert flaps == expected_flaps and flaps

    people: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for m in mine:
        for person, when, _step in m.pages:
            people[person][0] += 1
            if night(when, person):
                people[person][1] += 1
                people[person][2] += m.tier in ("P2", "P3")
    got = {
        n["person"]: [n["pages"], n["night_pages"], n["low_tier_night_pages"]]
        for n in doc["night_pages"]
    }
    assert got == dict(people)
    assert {n["person"]: n["time_zone"] for n in doc["night_pages"]} == {
        p: ZONES.get(p, "UTC") for p in people
    }

    for line in doc["tiers"]:
        group = [m for m in mine if m.tier == line["tier"]]
        acks = [(m.acked - m.created).total_seconds() for m in group if m.acked]
        fixes = [(m.resolved - m.created).total_seconds() for m in group if m.resolved]
        assert line["incidents"] == len(group)
        assert line["acked"] == len(acks) and line["resolved"] == len(fixes)
        assert line["mtta_seconds"] == (round(statistics.fmean(acks)) if acks else None)
        assert line["mttr_seconds"] == (round(statistics.fmean(fixes)) if fixes else None)
    assert sorted(line["tier"] for line in doc["tiers"]) == sorted({m.tier for m in mine})

    assert [(r["incident_id"], r["open_items"]) for r in doc["stale_reviews"]] == [(3, 2)]
    assert doc["stale_reviews"][0]["suggestion"] == "close_followups"


async def test_a_night_page_is_read_on_its_persons_clock_across_dst(db: Database) -> None:
    # 05:30 UTC: 06:30 in Berlin before 29 March (night), 07:30 after (day); bob in New York
    # is at night either way; carol reads UTC (05:30, night).
    base = datetime(2026, 3, 26, 5, 30, tzinfo=UTC)
    made = [
        Made(1, "Disk", "orders", "P2", base, None, None, None, False, [], [("alice", base, 0)]),
        Made(
            2,
            "Disk",
            "orders",
            "P2",
            base + timedelta(days=3),
            None,
            None,
            None,
            False,
            [],
            [("alice", base + timedelta(days=3), 0), ("carol", base + timedelta(days=3), 1)],
        ),
    ]
    await write(db, made, [])
    doc = json.loads(await report(db))
    got = {n["person"]: (n["pages"], n["night_pages"]) for n in doc["night_pages"]}
    assert got == {"alice": (2, 1), "carol": (1, 1)}
    assert doc["night_pages"][0]["suggestion"] == "day_only"  # P2 at night


async def test_suggestions_follow_the_documented_rules(db: Database) -> None:
    at = SINCE + timedelta(hours=1)
    made = [  # Flaky ends by itself within minutes, every time: a `for:` duration
        Made(
            i,
            "Flaky",
            "orders",
            "P3",
            at + timedelta(hours=i),
            None,
            at + timedelta(hours=i, minutes=7),
            "monitoring",
            False,
            [],
            [],
        )
        for i in range(1, 4)
    ] + [  # Busy fires twice a day and people handle it: raise the threshold
        Made(
            10 + i,
            "Busy",
            "payments",
            "P2",
            SINCE + timedelta(hours=11 * i),
            SINCE + timedelta(hours=11 * i, minutes=2),
            SINCE + timedelta(hours=11 * i + 1),
            "alice",
            False,
            [],
            [],
        )
        for i in range(46)
    ]
    await write(db, made, [])
    doc = json.loads(await report(db))
    top = {a["alert"]: a for a in doc["top_alerts"]}
    assert (top["Flaky"]["suggestion"], top["Flaky"]["suggestion_params"]) == (
        "add_for",
        {"minutes": 10},
    )
    assert top["Flaky"]["suggestion_text"] == "add a `for: 10m` duration to its rule"
    assert top["Busy"]["suggestion"] == "raise_threshold"
    assert [a["alert"] for a in doc["top_alerts"]] == ["Busy", "Flaky"]


async def test_csv_and_json_follow_the_documented_schema(db: Database, made: list[Made]) -> None:
    text = await report(db, fmt="csv")
    assert text.splitlines()[0] == DOCUMENTED_CSV
    rows = list(csv.DictReader(io.StringIO(text)))
    doc = json.loads(await report(db))
    sections = (
        "top_alerts",
        "flapping",
        "resolved_unacked",
        "never_acked",
        "night_pages",
        "tiers",
        "stale_reviews",
    )
    assert {r["section"] for r in rows} <= set(sections)
    for name in sections:
        assert sum(r["section"] == name for r in rows) == len(doc[name])
    assert set(doc) == {
        "report",
        "since",
        "until",
        "services",
        "night",
        "incidents",
        "lang",
        *sections,
    }
    assert doc["night"] == {"start": "22:00", "end": "07:00"}
    assert set(doc["tiers"][0]) == {
        "tier",
        "incidents",
        "acked",
        "mtta_seconds",
        "resolved",
        "mttr_seconds",
        "suggestion",
        "suggestion_params",
        "suggestion_text",
    }
    assert set(doc["top_alerts"][0]) == {
        "alert",
        "service",
        "tier",
        "incidents",
        "alerts",
        "pages",
        "resolved_unacked",
        "never_acked",
        "suggestion",
        "suggestion_params",
        "suggestion_text",
    }


async def test_service_and_team_narrow_the_report(db: Database, made: list[Made]) -> None:
    doc = json.loads(await report(db, services=("payments",)))
    assert doc["incidents"] == len(in_period(made, "payments"))
    assert {a["service"] for a in doc["top_alerts"]} == {"payments"}
    team = json.loads(await report(db, team="shop"))  # bob owns orders
    assert team["incidents"] == len(in_period(made, "orders"))
    with pytest.raises(ValueError, match="no group 'nobody'"):
        await report(db, team="nobody")


async def test_markdown_in_chinese(db: Database, made: list[Made]) -> None:
    text = await noise_text(SETTINGS, db, since=SINCE, until=UNTIL, fmt="md", lang="zh")
    assert text.startswith("# 告警噪音报告 2026-03-07 00:00 – 2026-03-30 00:00 UTC")
    for title in ("## 最频繁的告警", "## 抖动的告警", "## 夜间呼叫", "## 各级别平均认领与恢复时长"):
        assert title in text


def test_tocsin_report_noise_on_a_migrated_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}"
    config = tmp_path / "tocsin.yaml"
    config.write_text(yaml.safe_dump(base_config(database={"url": url})))
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    records = history(START, weeks=5)

    async def fill() -> None:
        db = Database(url)
        try:
            await write(db, records, REVIEWS)
        finally:
            await db.dispose()

    asyncio.run(fill())
    capsys.readouterr()
    until = UNTIL.isoformat()
    args = ["report", "noise", "--config", str(config), "--since", "23d", "--until", until]
    assert main([*args, "--format", "json", "--service", "orders"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["incidents"] == len(in_period(records, "orders"))
    assert main([*args, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == DOCUMENTED_CSV
    assert main([*args, "--team", "nobody"]) != 0
    capsys.readouterr()
    base = ["report", "noise", "--config", str(config)]
    assert main([*base, "--since", "a week"]) == 2
    assert "not a duration: 'a week'" in capsys.readouterr().err
    assert main([*base, "--until", "2026-03-30T00:00"]) == 2
    assert "--until: give the time with its offset" in capsys.readouterr().err


_ = upgrade  # the CLI migrates the database itself
