"""`tocsin oncall export`: the schedules, policies and groups with every default written out,
and reading the export back gives the same configuration."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from bot.oncall.timeline import timeline
from bot.settings.loader import load_settings
from tests.unit.migrate.harness import cli, tocsin_config

SCHEDULES = {
    "primary": {
        "time_zone": "America/New_York",
        "rotations": [
            {"name": "weekly", "participants": ["alice", "bob"], "start": "2027-03-01T09:00"},
            {
                "name": "days",
                "participants": ["carol"],
                "shift": "daily",
                "start": "2027-03-01T08:00",
                "time_zone": "Asia/Shanghai",
                "restrictions": [
                    {"days": ["mon", "tue"], "start": "08:00", "end": "20:00"},
                    {"start": "22:00", "end": "02:00"},
                ],
            },
        ],
        "overrides": [{"user": "bob", "start": "2027-03-10T12:00", "end": "2027-03-10T18:00"}],
    }
}
POLICIES = {
    "main": {
        "steps": [
            {"targets": ["schedule:primary"]},
            {"targets": ["group:pair"], "delay": "5m", "round_robin": True},
        ]
    }
}


async def test_the_export_spells_out_defaults_and_reads_back_the_same(tmp_path: Path) -> None:
    config = tocsin_config(
        tmp_path,
        schedules=SCHEDULES,
        escalation_policies=POLICIES,
        groups={"pair": ["alice", "bob"]},
    )
    done = await cli("oncall", "export", "--config", str(config))
    assert done.code == 0, done.err
    doc = yaml.safe_load(done.out)
    assert done.out.startswith(
        f"# The on-call configuration of {config}, every default written out."
    )
    weekly, days = doc["schedules"]["primary"]["rotations"]
    assert weekly == {
        "name": "weekly",
        "participants": ["alice", "bob"],
        "shift": "7d",
        "start": "2027-03-01T09:00:00",
        "time_zone": "America/New_York",
        "restrictions": [],
    }
    assert days["shift"] == "1d"
    assert days["restrictions"] == [
        {"days": ["mon", "tue"], "start": "08:00", "end": "20:00"},
        {
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start": "22:00",
            "end": "02:00",
        },
    ]
    assert doc["schedules"]["primary"]["overrides"] == [
        {"user": "bob", "start": "2027-03-10T12:00:00", "end": "2027-03-10T18:00:00"}
    ]
    assert doc["escalation_policies"]["main"] == {
        "steps": [
            {"targets": ["schedule:primary"], "delay": "15m", "round_robin": False},
            {"targets": ["group:pair"], "delay": "5m", "round_robin": True},
        ],
        "repeat": 0,
    }
    again = yaml.safe_load(config.read_text())
    again.update(doc)
    (tmp_path / "again").mkdir()
    copy = tmp_path / "again" / "tocsin.yaml"
    copy.write_text(yaml.safe_dump(again))
    first, second = load_settings(config), load_settings(copy)
    march = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))
    assert timeline(second.schedules["primary"], *march) == timeline(
        first.schedules["primary"], *march
    )
    assert second.escalation_policies == first.escalation_policies
    assert second.groups == first.groups
    exported_again = await cli("oncall", "export", "--config", str(copy))
    assert yaml.safe_load(exported_again.out) == doc


async def test_the_export_goes_to_a_file(tmp_path: Path) -> None:
    config = tocsin_config(tmp_path, schedules=SCHEDULES)
    out = tmp_path / "oncall.yaml"
    done = await cli("oncall", "export", "--config", str(config), "--out", str(out))
    assert (done.code, done.out, done.err.strip()) == (0, "", f"wrote {out}")
    assert set(yaml.safe_load(out.read_text())["schedules"]) == {"primary"}


async def test_an_override_with_one_offset_is_refused_by_name(tmp_path: Path) -> None:
    schedule = {
        **SCHEDULES["primary"],
        "overrides": [
            {"user": "bob", "start": "2027-03-10T12:00", "end": "2027-03-10T18:00-05:00"}
        ],
    }
    config = tocsin_config(tmp_path, schedules={"primary": schedule})
    done = await cli("check", str(config))
    assert done.code == 2
    assert (
        "schedules.primary.overrides.0: give both start and end with an offset, or neither"
        in done.err
    )
