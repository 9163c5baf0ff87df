"""Importing from Opsgenie: the shared story read from a fake of its API v2 (and from a folder
of its answers), converted, planned, applied and verified through the `tocsin` command.
Expected values are written out by hand from the story, never computed by the code under test."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.migrate.opsgenie import VENDOR
from bot.migrate.catalog import (
    Catalog,
    Chain,
    Cover,
    Layer,
    Person,
    Rota,
    Routing,
    Shift,
    Step,
    Target,
    Team,
)
from bot.migrate.reader import ApiReader, FileReader, ImportFailed
from bot.settings import load_settings
from bot.settings.oncall import Restriction
from tests.unit.migrate.fake_opsgenie import KEY, FakeOpsgenie, load_answers, write_folder
from tests.unit.migrate.harness import AS_OF, SHADOW_START, ZONE, cli, tocsin_config

ALICE = "a11ce000-7f1b-4c3e-9a01-000000000001"
BOB = "b0b00000-7f1b-4c3e-9a01-000000000002"
CAROL = "ca201000-7f1b-4c3e-9a01-000000000003"
DAVE = "dafe0000-7f1b-4c3e-9a01-000000000004"
SRE = "5be00000-2c4d-4e5f-8a6b-000000000001"
PRIMARY = "9c1a0000-5d6e-4f70-8b91-000000000001"
SUN = "9c1a0000-5d6e-4f70-8b91-000000000002"
HOLIDAY = "9c1a0000-5d6e-4f70-8b91-000000000003"
R_WEEKLY = "7a0e0000-1111-4222-8333-000000000001"
R_ASIA = "7a0e0000-1111-4222-8333-000000000002"
R_AMERICAS = "7a0e0000-1111-4222-8333-000000000003"
R_HOLIDAY = "7a0e0000-1111-4222-8333-000000000004"
E_PRIMARY = "e5ca0000-1a2b-4c3d-9e4f-000000000001"
E_NIGHT = "e5ca0000-1a2b-4c3d-9e4f-000000000002"
RULE_ORDERS = "f00d0000-3c3c-4d4d-9e9e-000000000001"
RULE_NIGHT = "f00d0000-3c3c-4d4d-9e9e-000000000002"
RULE_DEFAULT = "f00d0000-3c3c-4d4d-9e9e-000000000003"
NOW = datetime(2027, 3, 7, 12, tzinfo=UTC)
SHADOW = datetime(2027, 3, 8, 5, tzinfo=UTC)
SHADOW_END = datetime(2027, 3, 22, 4, tzinfo=UTC)
WEEKDAYS_8_TO_20 = tuple(
    Restriction(days=(day,), start=time(8), end=time(20))
    for day in ("mon", "tue", "wed", "thu", "fri")
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpsgenie]:
    server = FakeOpsgenie()
    await server.start()
    yield server
    await server.close()


async def read(fake: FakeOpsgenie, key: str = KEY) -> Catalog:
    reader = ApiReader("Opsgenie", fake.url, VENDOR.headers(key))
    try:
        return await VENDOR.catalog(reader, NOW)
    finally:
        await reader.close()


async def shifts(fake: FakeOpsgenie, schedule: str) -> list[Shift]:
    reader = ApiReader("Opsgenie", fake.url, VENDOR.headers(KEY))
    try:
        catalog = await VENDOR.catalog(reader, NOW)
        return await VENDOR.on_call(reader, catalog, schedule, SHADOW, SHADOW_END)
    finally:
        await reader.close()


def schedule_answer(fake: FakeOpsgenie, index: int) -> dict[str, Any]:
    found: dict[str, Any] = fake.answers["/v2/schedules"]["data"][index]
    return found


def at(day: int, hour: int) -> datetime:
    """An instant in March 2027, UTC."""
    return datetime(2027, 3, day, hour, tzinfo=UTC)


# --- reading ------------------------------------------------------------------------------


async def test_the_api_and_a_folder_of_its_answers_give_the_same_catalog(
    fake: FakeOpsgenie, tmp_path: Path
) -> None:
    from_api = await read(fake)
    folder = write_folder(load_answers(), tmp_path / "export")
    from_files = await VENDOR.catalog(FileReader("Opsgenie", folder), NOW)
    assert from_api == from_files
    assert [c.query.get("offset") for c in fake.calls if c.path == "/v2/users"] == ["0", "2"]


async def test_every_page_of_users_is_followed(fake: FakeOpsgenie) -> None:
    fake.page_size = 1
    catalog = await read(fake)
    assert [p.email for p in catalog.people] == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
    ]
    assert len([c for c in fake.calls if c.path == "/v2/users"]) == 4


async def test_people_and_teams(fake: FakeOpsgenie) -> None:
    catalog = await read(fake)
    assert catalog.vendor == "opsgenie"
    assert catalog.people == [
        Person(ALICE, "Alice", "alice@example.com", "America/New_York"),
        Person(BOB, "Bob", "bob@example.com", "America/New_York"),
        Person(CAROL, "Carol", "carol@example.com", "America/Chicago"),
        Person(DAVE, "Dave", "dave@example.com", "Asia/Shanghai"),
    ]
    assert catalog.teams == [Team(SRE, "SRE", (ALICE, BOB))]


async def test_primary_hands_off_at_nine_local_and_keeps_coming_overrides_only(
    fake: FakeOpsgenie,
) -> None:
    catalog = await read(fake)
    primary = catalog.schedules[0]
    assert primary == Rota(
        PRIMARY,
        "Primary",
        ZONE,
        (
            Layer(
                R_WEEKLY,
                "weekly",
                (ALICE, BOB, CAROL),
                timedelta(weeks=1),
                datetime(2027, 3, 1, 9, 0),  # 14:00Z read as New York wall time
                ZONE,
            ),
        ),
        overrides=(Cover(CAROL, at(10, 17), at(10, 23), "carol-covers-alice"),),
        team=SRE,
    )


async def test_follow_the_sun_restrictions_in_the_schedule_zone(fake: FakeOpsgenie) -> None:
    catalog = await read(fake)
    sun = catalog.schedules[1]
    asia, americas = sun.layers
    assert (asia.name, asia.participants, asia.shift) == ("asia", (DAVE,), timedelta(weeks=1))
    assert asia.start == datetime(2027, 2, 28, 20, 0)
    assert asia.restrictions == (Restriction(start=time(20), end=time(8)),)
    assert (americas.participants, americas.start) == ((CAROL, BOB), datetime(2027, 3, 1, 8))
    assert americas.restrictions == WEEKDAYS_8_TO_20
    assert sun.overrides == (Cover(ALICE, at(25, 0), at(25, 12), "alice-covers-asia"),)
    assert [s.origin for s in catalog.schedules] == [PRIMARY, SUN]


async def test_a_weekday_window_across_the_weekend(fake: FakeOpsgenie) -> None:
    americas = schedule_answer(fake, 1)["rotations"][1]
    americas["timeRestriction"]["restrictions"] = [
        {"startDay": "friday", "startHour": 18, "startMin": 30, "endDay": "monday", "endHour": 8}
    ]
    catalog = await read(fake)
    assert catalog.schedules[1].layers[1].restrictions == (
        Restriction(days=("fri",), start=time(18, 30), end=time(0)),
        Restriction(days=("sat",), start=time(0), end=time(0)),
        Restriction(days=("sun",), start=time(0), end=time(0)),
        Restriction(days=("mon",), start=time(0), end=time(8)),
    )


async def test_escalation_delays_become_waits_after_each_step(fake: FakeOpsgenie) -> None:
    catalog = await read(fake)
    assert catalog.policies == [
        Chain(
            E_PRIMARY,
            "Primary escalation",
            (
                Step((Target("schedule", PRIMARY),), timedelta(minutes=10)),  # 0 → 10
                Step((Target("user", BOB),), timedelta(minutes=15)),  # 10 → 25
                Step((Target("team", SRE),), timedelta(minutes=5)),  # waitInterval, then again
            ),
            repeat=2,
            team=SRE,
        ),
        Chain(
            E_NIGHT,
            "Night round robin",
            (
                Step((Target("team", SRE),), timedelta(minutes=20), round_robin=True),
                Step((Target("user", ALICE),), timedelta(minutes=15)),  # last, no repeat
            ),
            repeat=0,
            team=SRE,
        ),
    ]


async def test_rules_at_the_same_delay_are_one_step(fake: FakeOpsgenie) -> None:
    rules = fake.answers["/v2/escalations"]["data"][0]["rules"]
    rules[1]["delay"] = {"timeAmount": 0, "timeUnit": "minutes"}
    rules[2]["delay"] = {"timeAmount": 1, "timeUnit": "hours"}
    rules[2]["condition"] = "if-not-closed"
    catalog = await read(fake)
    assert catalog.policies[0].steps == (
        Step((Target("schedule", PRIMARY), Target("user", BOB)), timedelta(hours=1)),
        Step((Target("team", SRE),), timedelta(minutes=5)),
    )
    assert any("if-not-closed" in s.reason for s in catalog.differences)


async def test_the_orders_rule_becomes_a_route(fake: FakeOpsgenie) -> None:
    catalog = await read(fake)
    assert catalog.routes == [Routing(RULE_ORDERS, "SRE: orders", "orders", E_PRIMARY)]


async def test_what_cannot_be_carried_is_reported_with_reasons(fake: FakeOpsgenie) -> None:
    catalog = await read(fake)
    expected_admins = "Night round robin: team SRE"
    found: dict[tuple[str, str, str], list[str]] = {}
    for skipped in catalog.skipped:
        found.setdefault((skipped.kind, skipped.origin, skipped.name), []).append(skipped.reason)
    expected = {
        ("notification rules", "", "every user"): "Tocsin pages by the incident's tier",
        ("schedule rotation", R_HOLIDAY, "holidays"): "empty slot",
        ("schedule", HOLIDAY, "Holiday cover"): "none of its rotations",
        ("escalation rule", SRE, expected_admins): "notify admins",
        ("escalation rule", PRIMARY, "Night round robin: schedule Primary"): "next on call",
        ("routing rule", RULE_NIGHT, "SRE: payments at night"): "at some times only",
        ("routing rule", RULE_DEFAULT, "SRE: Default Rule"): "straight to a schedule",
    }
    for key, words in expected.items():
        assert any(words in reason for reason in found[key]), key
    assert len(catalog.skipped) == 7
    differing = {(d.kind, d.origin, d.name): d.reason for d in catalog.differences}
    assert (
        "some of the schedule's rotations"
        in differing[("override", "alice-covers-asia", "Follow the sun")]
    )
    assert "random member" in differing[("escalation rule", SRE, expected_admins)]
    assert len(differing) == 2
    everything = catalog.skipped + catalog.differences
    assert not any("bob-dentist" in (s.origin, s.name) for s in everything)


async def test_rotations_on_call_at_the_same_time_are_reported(fake: FakeOpsgenie) -> None:
    del schedule_answer(fake, 1)["rotations"][0]["timeRestriction"]  # asia: all day
    catalog = await read(fake)
    overlaps = [s for s in catalog.differences if s.kind == "schedule rotations"]
    assert [(s.origin, s.name) for s in overlaps] == [(SUN, "Follow the sun")]
    assert "mon 08:00" in overlaps[0].reason
    assert "'americas' wins" in overlaps[0].reason


async def test_ended_ending_and_disabled(fake: FakeOpsgenie) -> None:
    asia, americas = schedule_answer(fake, 1)["rotations"]
    asia["endDate"] = "2027-03-05T00:00:00Z"  # over before the import
    americas["endDate"] = "2027-06-01T12:00:00Z"
    schedule_answer(fake, 0)["enabled"] = False
    catalog = await read(fake)
    assert [s.origin for s in catalog.schedules] == [SUN]
    assert [layer.origin for layer in catalog.schedules[0].layers] == [R_AMERICAS]
    reasons = {(s.kind, s.origin): s.reason for s in catalog.skipped}
    ending = {(d.kind, d.origin): d.reason for d in catalog.differences}
    assert "2027-06-01T12:00:00+00:00" in ending[("rotation end", R_AMERICAS)]
    assert "disabled" in reasons[("schedule", PRIMARY)]


# --- failures -----------------------------------------------------------------------------


async def test_a_bad_key_is_refused_with_opsgenies_words(fake: FakeOpsgenie) -> None:
    with pytest.raises(ImportFailed) as caught:
        await read(fake, key="wrong")
    assert "HTTP 401" in str(caught.value)
    assert "Could not authenticate" in str(caught.value)
    assert VENDOR.headers("k")["Authorization"] == "GenieKey k"


async def test_an_unreachable_api() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reader = ApiReader("Opsgenie", f"http://127.0.0.1:{port}", VENDOR.headers(KEY))
    try:
        with pytest.raises(ImportFailed, match="cannot reach Opsgenie"):
            await VENDOR.catalog(reader, NOW)
    finally:
        await reader.close()


@pytest.mark.parametrize(
    ("path", "change", "where"),
    [
        ("/v2/users", lambda b: b["data"][1].update(username=42), "/v2/users data[1].username"),
        (
            "/v2/schedules",
            lambda b: b["data"][0]["rotations"][0].update(length="one"),
            "/v2/schedules data[0].rotations[0].length",
        ),
        (
            "/v2/schedules",
            lambda b: b["data"][1]["rotations"][1]["timeRestriction"]["restrictions"][0].update(
                startDay="someday"
            ),
            "/v2/schedules data[1].rotations[1].timeRestriction.restrictions[0].startDay",
        ),
        (
            "/v2/escalations",
            lambda b: b["data"][0]["rules"][1].update(delay="10m"),
            "/v2/escalations data[0].rules[1].delay",
        ),
        ("/v2/teams", lambda b: b.update(data={"id": SRE}), "/v2/teams.data"),
    ],
)
async def test_a_surprising_shape_names_its_json_path(
    fake: FakeOpsgenie, path: str, change: Any, where: str
) -> None:
    change(fake.answers[path])
    with pytest.raises(ImportFailed) as caught:
        await read(fake)
    assert str(caught.value).startswith(f"{where}: ")


async def test_a_next_link_that_loops_is_stopped(fake: FakeOpsgenie) -> None:
    fake.looping = True
    with pytest.raises(ImportFailed, match="more than 1000 pages"):
        await read(fake)


# --- who is on call -----------------------------------------------------------------------


async def test_on_call_is_opsgenies_final_timeline_in_the_window(fake: FakeOpsgenie) -> None:
    assert await shifts(fake, PRIMARY) == [
        Shift(at(8, 5), at(8, 14), ALICE),  # clipped to the window's start
        Shift(at(8, 14), at(10, 17), BOB),
        Shift(at(10, 17), at(10, 23), CAROL),
        Shift(at(10, 23), at(15, 13), BOB),  # 09:00 EDT after the clocks went forward
        Shift(at(15, 13), at(22, 4), CAROL),  # clipped to the window's end
    ]
    call = next(c for c in fake.calls if c.path.endswith("/timeline"))
    assert call.query == {
        "identifierType": "id",
        "date": "2027-03-08T05:00:00+00:00",
        "interval": "14",
        "intervalUnit": "days",
    }


async def test_on_call_unions_the_rotations(fake: FakeOpsgenie) -> None:
    found = await shifts(fake, SUN)
    assert len(found) == 25
    assert found[0] == Shift(at(8, 5), at(8, 13), DAVE)
    assert Shift(at(14, 1), at(14, 12), DAVE) in found  # the 11-hour night of 13 March
    assert Shift(at(15, 12), at(16, 0), CAROL) in found
    assert found[-1] == Shift(at(22, 0), at(22, 4), DAVE)


async def test_on_call_names_an_unlisted_person_by_username(fake: FakeOpsgenie) -> None:
    timeline = fake.answers[f"/v2/schedules/{PRIMARY}/timeline"]["data"]
    period = timeline["finalTimeline"]["rotations"][0]["periods"][2]
    period["recipient"] = {"id": "e0000000-0000-4000-8000-000000000009", "type": "user"}
    period["recipient"]["name"] = "erin@example.com"
    found = await shifts(fake, PRIMARY)
    assert found[2] == Shift(at(10, 17), at(10, 23), "erin@example.com")


async def test_on_call_malformed_period_names_its_path(fake: FakeOpsgenie) -> None:
    timeline = fake.answers[f"/v2/schedules/{PRIMARY}/timeline"]["data"]
    timeline["finalTimeline"]["rotations"][0]["periods"][1]["endDate"] = 17
    with pytest.raises(ImportFailed) as caught:
        await shifts(fake, PRIMARY)
    assert "finalTimeline.rotations[0].periods[1].endDate: expected a time" in str(caught.value)


# --- the command, end to end --------------------------------------------------------------


def source(fake: FakeOpsgenie, config: Path, key: str = KEY) -> tuple[str, ...]:
    return ("--config", str(config), "--url", fake.url, "--token", key)


async def test_plan_lists_adds_and_what_is_not_carried(fake: FakeOpsgenie, tmp_path: Path) -> None:
    config = tocsin_config(tmp_path)
    before = config.read_bytes()
    result = await cli("import", "opsgenie", *source(fake, config), "--plan", "--as-of", AS_OF)
    assert result.code == 0, result.err
    for words in (
        "new user Carol <carol@example.com>",
        "new user Dave <dave@example.com>",
        "matched by e-mail alice@example.com",
        "+ primary ",
        "+ follow-the-sun ",
        "+ primary-escalation ",
        "+ night-round-robin ",
        'service="orders" → primary-escalation',
        "the rotation has an empty slot",
        "notify admins of a team: Tocsin has no such target",
        "the rule applies at some times only",
        "Nothing written (--plan)",
    ):
        assert words in result.out, words
    assert config.read_bytes() == before
    assert not (tmp_path / "oncall-opsgenie.yaml").exists()


async def apply(fake: FakeOpsgenie, config: Path, out: Path, key: str = KEY) -> Any:
    return await cli(
        "import", "opsgenie", *source(fake, config, key), "--apply", "--out", str(out),
        "--as-of", AS_OF, "--replace",
    )  # fmt: skip


async def test_apply_writes_an_included_file_that_loads(fake: FakeOpsgenie, tmp_path: Path) -> None:
    config = tocsin_config(tmp_path)
    out = tmp_path / "import-opsgenie.yaml"
    result = await apply(fake, config, out)
    assert result.code == 0, result.err
    text = out.read_text(encoding="utf-8")
    assert f"Opsgenie schedule {PRIMARY}: Primary" in text
    assert f"Opsgenie user {DAVE}: Dave" in text
    assert "import-opsgenie.yaml" in config.read_text(encoding="utf-8")
    settings = load_settings(config)
    carol = next(u.id for u in settings.users if u.contact.email == "carol@example.com")
    primary = settings.schedules["primary"]
    assert primary.time_zone == ZONE
    (weekly,) = primary.rotations
    assert weekly.participants == ("alice", "bob", carol)
    assert (weekly.start, weekly.shift) == (datetime(2027, 3, 1, 9, 0), timedelta(weeks=1))
    assert [(o.user, o.start, o.end) for o in primary.overrides] == [
        (carol, at(10, 17), at(10, 23))
    ]
    asia, americas = settings.schedules["follow-the-sun"].rotations
    assert asia.participants == ("dave",)
    assert asia.restrictions == (Restriction(start=time(20), end=time(8)),)
    assert americas.participants == (carol, "bob")
    assert {(r.start, r.end) for r in americas.restrictions} == {(time(8), time(20))}
    assert sorted(d for r in americas.restrictions for d in r.days) == sorted(
        ["mon", "tue", "wed", "thu", "fri"]
    )
    policy = settings.escalation_policies["primary-escalation"]
    assert [(s.targets, s.delay) for s in policy.steps] == [
        (("schedule:primary",), timedelta(minutes=10)),
        (("user:bob",), timedelta(minutes=15)),
        (("group:sre",), timedelta(minutes=5)),
    ]
    assert policy.repeat == 2
    assert settings.escalation_policies["night-round-robin"].steps[0].round_robin is True


async def verify(fake: FakeOpsgenie, config: Path, key: str = KEY) -> Any:
    return await cli(
        "import", "verify", "opsgenie", *source(fake, config, key), "--start", SHADOW_START,
        "--days", "14",
    )  # fmt: skip


async def test_verify_finds_no_difference_across_the_clock_change(
    fake: FakeOpsgenie, tmp_path: Path
) -> None:
    config = tocsin_config(tmp_path)
    assert (await apply(fake, config, tmp_path / "import-opsgenie.yaml")).code == 0
    result = await verify(fake, config)
    assert result.code == 0, result.out + result.err
    assert result.out.count("0 differences in 336 hours") == 2
    assert "schedule primary (" in result.out
    assert "schedule follow-the-sun (" in result.out


async def test_verify_prints_a_changed_period(fake: FakeOpsgenie, tmp_path: Path) -> None:
    config = tocsin_config(tmp_path)
    assert (await apply(fake, config, tmp_path / "import-opsgenie.yaml")).code == 0
    periods = fake.answers[f"/v2/schedules/{PRIMARY}/timeline"]["data"]["finalTimeline"]
    bob, carol = periods["rotations"][0]["periods"][3:5]
    bob["endDate"] = carol["startDate"] = "2027-03-15T14:00:00Z"  # as if 09:00 EST were kept
    result = await verify(fake, config)
    assert result.code == 1
    assert "Mon 2027-03-15 09:00 EDT → Mon 2027-03-15 10:00 EDT (1h): Opsgenie bob" in result.out
    assert "1 with differences" in result.out


async def test_a_bad_key_changes_nothing(fake: FakeOpsgenie, tmp_path: Path) -> None:
    config = tocsin_config(tmp_path)
    out = tmp_path / "import-opsgenie.yaml"
    assert (await apply(fake, config, out)).code == 0
    config_bytes, out_bytes = config.read_bytes(), out.read_bytes()
    result = await apply(fake, config, out, key="revoked")
    assert result.code == 1
    assert "Opsgenie refused the token (HTTP 401" in result.err
    assert "Could not authenticate" in result.err
    assert (config.read_bytes(), out.read_bytes()) == (config_bytes, out_bytes)
    checked = await verify(fake, config, key="revoked")
    assert checked.code == 1
    assert "Could not authenticate" in checked.err
