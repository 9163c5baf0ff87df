"""The catalog → configuration step: people matched by e-mail or proposed, names, schedule and
policy bodies (with what changed on the way), routing, and each item's status against the
configuration and an earlier import."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from bot.migrate.catalog import (
    Catalog,
    Chain,
    Layer,
    Rota,
    Step,
    Target,
    daily_windows,
    weekly_windows,
)
from bot.migrate.convert import Proposal, convert
from bot.settings.oncall import Restriction
from tests.support import base_config
from tests.unit.migrate.stub import story

NOW = datetime(2027, 3, 7, 12, tzinfo=UTC)


def config() -> dict[str, Any]:
    raw = base_config(default_route={"destinations": ["fake:ops"]})
    for user in raw["users"]:
        if user["id"] in ("alice", "bob"):
            user["contact"] = {"email": f"{user['id']}@example.com"}
    return raw


def proposal(base: dict[str, Any] | None = None, previous: Any = None, **kw: Any) -> Proposal:
    return convert(story(), "Stub", base or config(), previous, now=NOW, **kw)


def item(p: Proposal, section: str, key: str) -> Any:
    found = [i for i in p.items if i.section == section and i.key == key]
    assert len(found) == 1, [(i.section, i.key) for i in p.items]
    return found[0]


def test_people_are_matched_by_email_whatever_its_case_and_the_rest_proposed() -> None:
    p = proposal()
    assert p.matched == {"U1": "alice", "U2": "bob"}
    assert p.users == {"U1": "alice", "U2": "bob", "U3": "carol-2", "U4": "dave", "U5": "no-mail"}
    carol = item(p, "users", "carol-2")
    assert carol.body == {
        "id": "carol-2",
        "name": "Carol C.",
        "contact": {"email": "carol@example.com", "phone": "+15550100003"},
    }
    assert "'carol' is taken" in carol.detail
    assert "no e-mail" in item(p, "users", "no-mail").detail
    assert any("bob" in n and "+15550100002" in n for n in p.notes)


def test_teams_become_groups_and_an_empty_team_is_reported() -> None:
    p = proposal()
    assert item(p, "groups", "sre").body == ["alice", "bob"]
    assert [(s.kind, s.origin, s.reason) for s in p.skipped if s.kind == "team"] == [
        ("team", "T2", "it has no members")
    ]


def test_a_schedule_keeps_local_hand_offs_restrictions_and_only_future_overrides() -> None:
    p = proposal()
    assert item(p, "schedules", "primary").body == {
        "time_zone": "America/New_York",
        "rotations": [
            {
                "name": "weekly",
                "participants": ["alice", "bob", "carol-2"],
                "shift": "7d",
                "start": "2027-03-01T09:00:00",  # 14:00Z is 09:00 EST
            }
        ],
        "overrides": [
            {
                "user": "carol-2",
                "start": "2027-03-10T12:00:00-05:00",
                "end": "2027-03-10T18:00:00-05:00",
            }
        ],
    }
    sun = item(p, "schedules", "follow-the-sun").body
    assert sun["rotations"][0] == {
        "name": "shanghai-day",
        "participants": ["dave"],
        "shift": "1d",
        "start": "2027-03-01T08:00:00",
        "time_zone": "Asia/Shanghai",
        "restrictions": [{"start": "08:00", "end": "20:00"}],
    }
    assert sun["rotations"][1]["restrictions"] == [{"start": "08:00", "end": "19:00"}]
    assert "time_zone" not in sun["rotations"][1]


def test_policies_keep_steps_delays_repeat_and_round_robin_and_say_what_changed() -> None:
    p = proposal()
    assert item(p, "escalation_policies", "primary-escalation").body == {
        "steps": [
            {"targets": ["schedule:primary"], "delay": "10m"},
            {"targets": ["user:bob"], "delay": "15m"},
            {"targets": ["group:sre"], "delay": "30s"},
        ],
        "repeat": 2,
    }
    assert item(p, "escalation_policies", "round-robin").body == {
        "steps": [{"targets": ["user:carol-2", "user:dave"], "round_robin": True, "delay": "5m"}],
        "repeat": 0,
    }
    notes = "\n".join(p.notes)
    assert "step 2: the user U9 was not imported" in notes
    assert "step 3: waited 5s; Tocsin waits at least 30s" in notes


def test_a_step_left_with_nobody_is_dropped_and_its_wait_kept() -> None:
    chain = Chain(
        "P",
        "Gappy",
        (
            Step((Target("user", "U1"),), timedelta(minutes=5)),
            Step((Target("user", "nobody"),), timedelta(minutes=7)),
            Step((Target("user", "U2"),), timedelta(minutes=9)),
        ),
        repeat=12,
    )
    catalog = story()
    catalog.policies = [chain]
    p = convert(catalog, "Stub", config(), None, now=NOW)
    assert item(p, "escalation_policies", "gappy").body == {
        "steps": [
            {"targets": ["user:alice"], "delay": "12m"},
            {"targets": ["user:bob"], "delay": "9m"},
        ],
        "repeat": 10,
    }
    assert any("repeated 12 times; Tocsin repeats at most 10" in n for n in p.notes)


def test_routing_posts_to_the_default_route_or_the_given_chats() -> None:
    p = proposal()
    assert item(p, "routes", "orders").body == {
        "name": "orders",
        "matchers": ['service="orders"'],
        "destinations": ["fake:ops"],
        "escalation_policy": "primary-escalation",
    }
    gone = [s for s in p.skipped if s.kind == "routing"]
    assert [(s.origin, s.reason) for s in gone] == [
        ("SV2", "its escalation policy was not imported")
    ]
    chats = proposal(chats=["fake:oncall"])
    assert item(chats, "routes", "orders").body["destinations"] == ["fake:oncall"]
    bare = config()
    del bare["default_route"]
    reasons = {s.origin: s.reason for s in proposal(bare).skipped}
    assert "set default_route or pass --chat" in reasons["SV1"]


def test_a_prefix_names_everything_imported() -> None:
    p = proposal(prefix="pd-")
    keys = {(i.section, i.key) for i in p.items if i.section != "users"}
    assert ("schedules", "pd-primary") in keys
    assert item(p, "escalation_policies", "pd-primary-escalation").body["steps"][0] == {
        "targets": ["schedule:pd-primary"],
        "delay": "10m",
    }


def test_statuses_against_the_configuration_and_an_earlier_import() -> None:
    first = proposal()
    assert {i.status for i in first.items} == {"add"}
    base = config()
    base["schedules"] = {"primary": item(first, "schedules", "primary").body}
    base["groups"] = {"sre": ["bob"]}
    previous = first.document()
    previous["escalation_policies"]["primary-escalation"]["repeat"] = 1
    previous["schedules"]["retired"] = previous["schedules"].pop("follow-the-sun")
    again = proposal(base, previous)
    assert item(again, "schedules", "primary").status == "present"
    sre = item(again, "groups", "sre")
    assert (sre.status, "--prefix" in sre.detail) == ("conflict", True)
    policy = item(again, "escalation_policies", "primary-escalation")
    assert (policy.status, policy.detail) == ("change", "differs in repeat")
    assert item(again, "escalation_policies", "round-robin").status == "unchanged"
    assert item(again, "schedules", "follow-the-sun").status == "add"
    assert item(again, "schedules", "retired").status == "remove"
    written = again.document()
    assert "sre" not in written.get("groups", {})
    assert "primary" not in written["schedules"]
    assert set(written["schedules"]) == {"follow-the-sun"}


def test_a_schedule_tocsin_would_refuse_is_reported_not_written() -> None:
    catalog = Catalog("stub", people=story().people)
    catalog.schedules = [
        Rota("S9", "Mars", "Mars/Olympus", ()),
        Rota(
            "S8",
            "Tiny",
            "UTC",
            (Layer("L", "l", ("U1",), timedelta(minutes=5), datetime(2027, 1, 1)),),
        ),
        Rota(
            "S7",
            "Ghost",
            "UTC",
            (Layer("L", "l", ("U77",), timedelta(days=1), datetime(2027, 1, 1)),),
        ),
    ]
    p = convert(catalog, "Stub", config(), None, now=NOW)
    reasons = {s.origin: s.reason for s in p.skipped}
    assert reasons["S9"] == "unknown time zone 'Mars/Olympus'"
    assert "a shift lasts at least 15 minutes" in reasons["S8"]
    assert reasons["S7"] == "layer 'l': unknown people U77"
    assert not [i for i in p.items if i.section == "schedules"]


@pytest.mark.parametrize(
    ("first", "opens", "length", "expected"),
    [
        ("mon", time(9), timedelta(hours=8), [("mon", time(9), time(17))]),
        (
            "fri",
            time(18),
            timedelta(days=2, hours=15),
            [
                ("fri", time(18), time(0)),
                ("sat", time(0), time(0)),
                ("sun", time(0), time(0)),
                ("mon", time(0), time(9)),
            ],
        ),
        ("sun", time(0), timedelta(days=1), [("sun", time(0), time(0))]),
    ],
)
def test_weekly_windows_are_cut_at_midnights(
    first: Any, opens: time, length: timedelta, expected: list[tuple[str, time, time]]
) -> None:
    assert weekly_windows(first, opens, length) == tuple(
        Restriction(days=(d,), start=s, end=e) for d, s, e in expected
    )


def test_windows_refuse_lengths_they_cannot_hold() -> None:
    with pytest.raises(ValueError, match="at most 7 days"):
        weekly_windows("mon", time(0), timedelta(days=8))
    with pytest.raises(ValueError, match="at most a day"):
        daily_windows(time(0), timedelta(hours=25))
    assert daily_windows(time(22), timedelta(hours=10)) == (
        Restriction(start=time(22), end=time(8)),
    )
