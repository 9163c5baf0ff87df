"""`tocsin import pagerduty`: PagerDuty's REST API v2 (served by a local fake, one item a page)
or a folder of its JSON, read into a catalog, planned, applied and verified.

Every expected value is worked out by hand from the shared story: New York hand-offs at 09:00
local are 14:00Z before Sunday 14 March 2027 and 13:00Z after it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.migrate.pagerduty import VENDOR
from bot.migrate.catalog import (
    Catalog,
    Chain,
    Cover,
    Layer,
    Person,
    Routing,
    Shift,
    Step,
    Target,
    Team,
)
from bot.migrate.reader import ApiReader, FileReader, ImportFailed
from bot.settings import load_settings
from bot.settings.oncall import Restriction
from tests.unit.migrate.fake_pagerduty import FakePagerDuty, write_folder
from tests.unit.migrate.harness import (
    AS_OF,
    SHADOW_START,
    ZONE,
    cli,
    imported_schedules,
    tocsin_config,
    user_by_email,
)

NOW = datetime(2027, 3, 7, 12, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def fake() -> AsyncIterator[FakePagerDuty]:
    server = FakePagerDuty()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def reader_of(fake: FakePagerDuty, token: str | None = None) -> ApiReader:
    return ApiReader(VENDOR.title, fake.url, VENDOR.headers(token or fake.key))


async def read(fake: FakePagerDuty, token: str | None = None) -> Catalog:
    reader = reader_of(fake, token)
    try:
        return await VENDOR.catalog(reader, NOW)
    finally:
        await reader.close()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def offsets(fake: FakePagerDuty, path: str) -> list[str]:
    return [v for c in fake.calls if c.path == path for k, v in c.query if k == "offset"]


# -- reading -----------------------------------------------------------------------------


async def test_api_and_folder_give_the_same_catalog(fake: FakePagerDuty, tmp_path: Path) -> None:
    from_api = await read(fake)
    folder = write_folder(fake, tmp_path / "export")
    from_files = await VENDOR.catalog(FileReader(VENDOR.title, folder), NOW)
    assert from_api == from_files
    assert offsets(fake, "/users") == ["0", "1", "2", "3"]  # four users, one a page
    assert offsets(fake, "/services") == ["0", "1", "2"]
    assert offsets(fake, "/teams/PSRE001/members") == ["0", "1"]


async def test_token_and_media_type_headers() -> None:
    assert VENDOR.headers("abc123") == {
        "Authorization": "Token token=abc123",
        "Accept": "application/vnd.pagerduty+json;version=2",
    }
    assert VENDOR.name == "pagerduty"
    assert VENDOR.default_url == "https://api.pagerduty.com"


async def test_people_with_phone_numbers_and_teams(fake: FakePagerDuty) -> None:
    catalog = await read(fake)
    assert catalog.people == [
        Person("PALICE1", "Alice", "alice@example.com", ZONE, "+12125550101"),
        Person("PBOB002", "Bob", "bob@example.com", ZONE, None),
        Person("PCAROL3", "Carol", "carol@example.com", ZONE, None),
        Person("PDAVE04", "Dave", "dave@example.com", "Asia/Shanghai", "+8613800138000"),
    ]
    assert catalog.teams == [
        Team("PSRE001", "SRE", ("PALICE1", "PBOB002")),
        Team("PDBA002", "Database", ("PCAROL3", "PDAVE04")),
    ]
    includes = [v for c in fake.calls if c.path == "/users" for k, v in c.query if k == "include[]"]
    assert set(includes) == {"contact_methods", "notification_rules"}


async def test_primary_weekly_rotation_hands_off_at_local_nine(fake: FakePagerDuty) -> None:
    catalog = await read(fake)
    primary = next(s for s in catalog.schedules if s.origin == "PPRIM01")
    assert (primary.name, primary.time_zone, primary.team) == ("Primary", ZONE, "PSRE001")
    assert primary.ical_url == "https://example.pagerduty.com/private/0a1b2c3d/feed/PPRIM01"
    # rotation_virtual_start 2027-03-01T14:00:00Z is 09:00 in New York (EST)
    assert primary.layers == (
        Layer(
            "PLPRI02",
            "Layer 2",
            ("PALICE1", "PBOB002", "PCAROL3"),
            timedelta(days=7),
            datetime(2027, 3, 1, 9, 0),
        ),
    )


async def test_overrides_still_to_come_only(fake: FakePagerDuty, tmp_path: Path) -> None:
    expected = (Cover("PCAROL3", utc("2027-03-10T17:00Z"), utc("2027-03-10T23:00Z"), "PQOVR02"),)
    catalog = await read(fake)
    primary = next(s for s in catalog.schedules if s.origin == "PPRIM01")
    assert primary.overrides == expected
    asked = next(c for c in fake.calls if c.path == "/schedules/PPRIM01/overrides")
    assert ("since", NOW.isoformat()) in asked.query
    # a folder's file holds the past override too: it is left out all the same
    files = await VENDOR.catalog(FileReader(VENDOR.title, write_folder(fake, tmp_path)), NOW)
    assert next(s for s in files.schedules if s.origin == "PPRIM01").overrides == expected


async def test_follow_the_sun_layers_lowest_first_with_restrictions(fake: FakePagerDuty) -> None:
    catalog = await read(fake)
    sun = next(s for s in catalog.schedules if s.origin == "PSUN002")
    # the API lists Layer 2 (the winner) first; Tocsin wants the lowest first
    assert [layer.origin for layer in sun.layers] == ["PLSUN01", "PLSUN02"]
    dave, daytime = sun.layers
    assert dave == Layer(
        "PLSUN01",
        "Layer 1",
        ("PDAVE04",),
        timedelta(days=7),
        datetime(2027, 1, 4, 20, 0),
        restrictions=(Restriction(start=time(20, 0), end=time(8, 0)),),
    )
    assert daytime == Layer(
        "PLSUN02",
        "Layer 2",
        ("PCAROL3", "PBOB002"),
        timedelta(days=1),
        datetime(2027, 1, 4, 8, 0),
        restrictions=tuple(
            Restriction(days=(day,), start=time(8, 0), end=time(20, 0))
            for day in ("mon", "tue", "wed", "thu", "fri")
        ),
    )
    assert sun.overrides == ()


async def test_escalation_policies(fake: FakePagerDuty) -> None:
    catalog = await read(fake)
    assert catalog.policies == [
        Chain(
            "PEPRI01",
            "Primary escalation",
            (
                Step((Target("schedule", "PPRIM01"),), 10 * MINUTE),
                Step((Target("user", "PBOB002"),), 15 * MINUTE),
                Step((Target("user", "PALICE1"), Target("user", "PBOB002")), 30 * MINUTE),
            ),
            repeat=2,
            team="PSRE001",
        ),
        Chain(
            "PEDB002",
            "Database round robin",
            (
                Step(
                    (Target("user", "PCAROL3"), Target("user", "PDAVE04")),
                    5 * MINUTE,
                    round_robin=True,
                ),
                Step((Target("schedule", "PSUN002"),), 20 * MINUTE),
            ),
            repeat=0,
            team="PDBA002",
        ),
    ]


async def test_assignment_strategy_as_a_bare_word(fake: FakePagerDuty) -> None:
    fake.lists["escalation_policies"][1]["escalation_rules"][0][
        "escalation_rule_assignment_strategy"
    ] = "round_robin"
    fake.lists["escalation_policies"][1]["escalation_rules"][1].pop(
        "escalation_rule_assignment_strategy"
    )
    steps = (await read(fake)).policies[1].steps
    assert [s.round_robin for s in steps] == [True, False]


async def test_routing_from_active_services(fake: FakePagerDuty) -> None:
    catalog = await read(fake)
    assert catalog.routes == [
        Routing("PSORD01", "orders", "orders", "PEPRI01"),
        Routing("PSBIL02", "billing", "billing", "PEDB002"),
    ]


async def test_what_cannot_be_carried_is_reported(fake: FakePagerDuty) -> None:
    skipped = (await read(fake)).skipped
    assert [(s.kind, s.origin, s.name) for s in skipped] == [
        ("notification rules", "PALICE1", "Alice"),
        ("notification rules", "PDAVE04", "Dave"),
        ("schedule layer", "PLPRI01", "Primary / Layer 1"),
        ("hand-off notifications", "PEDB002", "Database round robin"),
        ("service setting", "PSBIL02", "billing"),
        ("service setting", "PSBIL02", "billing"),
        ("service setting", "PSBIL02", "billing"),
        ("service", "PSOLD03", "legacy-batch"),
    ]
    reasons = [s.reason for s in skipped]
    assert reasons[0].startswith("2 personal notification rule(s)")
    assert "paging.channels" in reasons[0]
    assert reasons[2] == "it ended at 2027-03-01T09:00:00-05:00, before the import (history only)"
    assert "announce" in reasons[3]
    assert reasons[4].startswith("incident urgency rule (use_support_hours)")
    assert reasons[5] == "support hours: Tocsin has no per-service support hours"
    assert reasons[6].startswith("acknowledgement timeout of 1800s")
    assert reasons[7] == "disabled in PagerDuty, so no route is made"


async def test_layers_tocsin_cannot_carry(fake: FakePagerDuty) -> None:
    layers = fake.lists["schedules"][1]["schedule_layers"]
    layers[0]["restrictions"][0] = {"type": "monthly_restriction", "start_time_of_day": "08:00:00",
                                    "duration_seconds": 3600}  # fmt: skip
    layers[1]["users"] = []
    catalog = await read(fake)
    assert [s.origin for s in catalog.schedules] == ["PPRIM01"]
    found = {
        s.origin: s.reason for s in catalog.skipped if s.kind in ("schedule layer", "schedule")
    }
    assert "restriction kind 'monthly_restriction'" in found["PLSUN02"]
    assert "no users" in found["PLSUN01"]
    assert found["PSUN002"] == "none of its layers can be carried (see above)"


async def test_a_layer_that_ends_later_or_starts_later_is_carried_and_noted(
    fake: FakePagerDuty,
) -> None:
    layer = fake.lists["schedules"][0]["schedule_layers"][0]
    layer["end"] = "2027-04-05T09:00:00-04:00"
    layer["start"] = "2027-03-08T09:00:00-05:00"
    catalog = await read(fake)
    assert [x.origin for x in catalog.schedules[0].layers] == ["PLPRI02"]
    notes = [d.reason for d in catalog.differences if d.origin == "PLPRI02"]
    assert not [s for s in catalog.skipped if s.origin == "PLPRI02"]
    assert len(notes) == 2
    assert "starts it at 2027-03-08T09:00:00-05:00" in notes[0]
    assert "ends it at 2027-04-05T09:00:00-04:00" in notes[1]


async def test_bad_token_is_refused_with_pagerdutys_words(fake: FakePagerDuty) -> None:
    with pytest.raises(ImportFailed) as caught:
        await read(fake, token="wrong")
    message = str(caught.value)
    assert "PagerDuty refused the token (HTTP 401 for /users)" in message
    assert "Authentication failed" in message


async def test_unreachable_api() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reader = ApiReader(VENDOR.title, f"http://127.0.0.1:{port}", VENDOR.headers("k"))
    try:
        with pytest.raises(ImportFailed, match="cannot reach PagerDuty"):
            await VENDOR.catalog(reader, NOW)
    finally:
        await reader.close()


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("users", 1, "email", 5), "/users: users[1].email: expected text"),
        (("services", 0, "escalation_policy", "PEPRI01"), "services[0].escalation_policy"),
        (
            ("escalation_policies", 0, "num_loops", "twice"),
            "/escalation_policies: escalation_policies[0].num_loops: expected a whole number",
        ),
    ],
)
async def test_malformed_json_names_the_path(
    fake: FakePagerDuty, change: tuple[str, int, str, Any], where: str
) -> None:
    name, index, key, value = change
    fake.lists[name][index][key] = value
    with pytest.raises(ImportFailed, match=where.replace("[", r"\[").replace("]", r"\]")):
        await read(fake)


async def test_malformed_layer_names_the_schedule_and_layer(fake: FakePagerDuty) -> None:
    fake.lists["schedules"][1]["schedule_layers"][0]["rotation_turn_length_seconds"] = "1 day"
    with pytest.raises(ImportFailed) as caught:
        await read(fake)
    assert str(caught.value).startswith(
        "/schedules/PSUN002: schedule.schedule_layers[0].rotation_turn_length_seconds:"
    )


async def test_a_list_that_is_not_a_list(fake: FakePagerDuty, tmp_path: Path) -> None:
    folder = write_folder(fake, tmp_path)
    (folder / "teams.json").write_text('{"teams": {"id": "PSRE001"}, "more": false}')
    with pytest.raises(ImportFailed, match="/teams: teams: expected a list, found an object"):
        await VENDOR.catalog(FileReader(VENDOR.title, folder), NOW)


async def test_a_list_that_never_ends_is_refused(fake: FakePagerDuty) -> None:
    fake.endless = True
    with pytest.raises(ImportFailed, match="says there is more but gave no users"):
        await read(fake)


async def test_on_call_is_pagerdutys_final_schedule(fake: FakePagerDuty) -> None:
    catalog = await read(fake)
    reader = reader_of(fake)
    try:
        shifts = await VENDOR.on_call(
            reader, catalog, "PPRIM01", utc("2027-03-10T00:00Z"), utc("2027-03-16T00:00Z")
        )
    finally:
        await reader.close()
    assert shifts == [
        Shift(utc("2027-03-10T00:00Z"), utc("2027-03-10T17:00Z"), "PBOB002"),
        Shift(utc("2027-03-10T17:00Z"), utc("2027-03-10T23:00Z"), "PCAROL3"),
        Shift(utc("2027-03-10T23:00Z"), utc("2027-03-15T13:00Z"), "PBOB002"),  # 09:00 EDT
        Shift(utc("2027-03-15T13:00Z"), utc("2027-03-16T00:00Z"), "PCAROL3"),
    ]
    asked = [c.query for c in fake.calls if c.path == "/schedules/PPRIM01"][-1]
    assert ("time_zone", "UTC") in asked


async def test_on_call_from_a_folder_is_clipped_to_the_range(
    fake: FakePagerDuty, tmp_path: Path
) -> None:
    reader = FileReader(VENDOR.title, write_folder(fake, tmp_path))
    catalog = await VENDOR.catalog(reader, NOW)
    shifts = await VENDOR.on_call(
        reader, catalog, "PSUN002", utc("2027-03-13T00:00Z"), utc("2027-03-15T00:00Z")
    )
    assert shifts == [
        Shift(utc("2027-03-13T00:00Z"), utc("2027-03-13T01:00Z"), "PBOB002"),
        Shift(utc("2027-03-13T01:00Z"), utc("2027-03-13T13:00Z"), "PDAVE04"),
        Shift(utc("2027-03-14T01:00Z"), utc("2027-03-14T12:00Z"), "PDAVE04"),  # 11 h: DST
    ]


async def test_on_call_without_a_final_schedule_names_the_path(
    fake: FakePagerDuty, tmp_path: Path
) -> None:
    folder = write_folder(fake, tmp_path)
    (folder / "schedules" / "PSUN002.json").write_text('{"schedule": {"id": "PSUN002"}}')
    reader = FileReader(VENDOR.title, folder)
    with pytest.raises(ImportFailed, match=r"/schedules/PSUN002: schedule.final_schedule"):
        await VENDOR.on_call(reader, Catalog("pagerduty"), "PSUN002", NOW, NOW + MINUTE)


# -- end to end through the command ----------------------------------------------------------


def _argv(fake: FakePagerDuty, config: Path, *rest: str, token: str | None = None) -> list[str]:
    return ["--config", str(config), "--url", fake.url, "--token", token or fake.key, *rest]


async def test_plan_lists_adds_and_skipped(fake: FakePagerDuty, tmp_path: Path) -> None:
    config = tocsin_config(tmp_path)
    before = config.read_bytes()
    result = await cli("import", "pagerduty", *_argv(fake, config, "--plan", "--as-of", AS_OF))
    assert result.code == 0, result.err
    out = result.out
    for words in ("carol", "dave", "Primary", "Follow the sun", "Primary escalation"):
        assert words in out, words
    for words in ("Database round robin", "orders", "billing"):
        assert words in out, words
    for words in ("history only", "support hours", "personal notification rule",
                  "legacy-batch"):  # fmt: skip
        assert words in out, words
    assert config.read_bytes() == before
    assert not (tmp_path / "oncall-pagerduty.yaml").exists()


async def test_apply_then_verify(fake: FakePagerDuty, tmp_path: Path) -> None:
    config = tocsin_config(tmp_path)
    out = tmp_path / "import-pagerduty.yaml"
    result = await cli(
        "import", "pagerduty", *_argv(fake, config, "--apply", "--out", str(out), "--as-of", AS_OF)
    )
    assert result.code == 0, result.err
    written = out.read_text(encoding="utf-8")
    for origin in ("PPRIM01", "PSUN002", "PEPRI01", "PEDB002", "PCAROL3", "PDAVE04", "PSORD01"):
        assert origin in written, origin
    assert out.name in config.read_text(encoding="utf-8")
    settings = load_settings(config)
    schedules = imported_schedules(yaml.safe_load(written))
    primary = settings.schedules[schedules["Primary"]]
    assert primary.time_zone == ZONE
    (rotation,) = primary.rotations
    assert rotation.shift == timedelta(days=7)
    assert rotation.start.replace(tzinfo=None) == datetime(2027, 3, 1, 9, 0)
    assert rotation.participants == (
        "alice",
        "bob",
        user_by_email(settings, "carol@example.com"),
    )
    assert [o.user for o in primary.overrides] == [user_by_email(settings, "carol@example.com")]
    follow = settings.schedules[schedules["Follow the sun"]]
    assert [r.participants for r in follow.rotations] == [
        (user_by_email(settings, "dave@example.com"),),
        (user_by_email(settings, "carol@example.com"), "bob"),
    ]
    policy = next(p for p in settings.escalation_policies.values() if p.repeat == 2)
    assert [s.delay for s in policy.steps] == [10 * MINUTE, 15 * MINUTE, 30 * MINUTE]

    shadow = await cli(
        "import", "verify", "pagerduty",
        *_argv(fake, config, "--start", SHADOW_START, "--days", "14"),
    )  # fmt: skip
    assert shadow.code == 0, shadow.out + shadow.err
    assert shadow.out.count("0 differences") == 2, shadow.out

    fake.final["PPRIM01"][3] = {
        **fake.final["PPRIM01"][3],
        "user": {"id": "PALICE1", "type": "user_reference", "summary": "Alice"},
    }
    changed = await cli(
        "import", "verify", "pagerduty",
        *_argv(fake, config, "--start", SHADOW_START, "--days", "14"),
    )  # fmt: skip
    assert changed.code == 1
    assert "2027-03-10 18:00" in changed.out  # Bob's part after the override, local time
    assert "alice" in changed.out


async def test_bad_token_changes_nothing(fake: FakePagerDuty, tmp_path: Path) -> None:
    config = tocsin_config(tmp_path)
    out = tmp_path / "import-pagerduty.yaml"
    out.write_text("# an earlier file\n", encoding="utf-8")
    before = (config.read_bytes(), out.read_bytes())
    result = await cli(
        "import", "pagerduty",
        *_argv(fake, config, "--apply", "--out", str(out), "--as-of", AS_OF, token="nope"),
    )  # fmt: skip
    assert result.code == 1
    assert "refused the token" in result.err and "Authentication failed" in result.err
    assert (config.read_bytes(), out.read_bytes()) == before


async def test_the_written_file_names_its_command_but_never_the_token(
    fake: FakePagerDuty, tmp_path: Path
) -> None:
    config = tocsin_config(tmp_path)
    out = tmp_path / "pd.yaml"
    argv = _argv(fake, config, "--apply", "--out", str(out), "--as-of", AS_OF)
    result = await cli("import", "pagerduty", *argv, "--header", "X-Trace:secret-trace")
    assert result.code == 0, result.err
    text = out.read_text(encoding="utf-8")
    assert f"# by `tocsin import pagerduty --config {config} --url {fake.url} --out {out}" in text
    assert fake.key not in text and "secret-trace" not in text
    assert "--token" not in text and "--header" not in text
    same = await cli("import", "pagerduty", *_argv(fake, config, "--plan", "--out", str(config)))
    assert same.code == 1
    assert "--out names the configuration itself" in same.err
