"""`tocsin import oncall`: Grafana OnCall's public API (served by a local fake, several pages
per list) or a folder of its JSON, read into a catalog, planned, applied and verified.

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

from adapters.migrate.oncall import VENDOR
from bot.migrate.catalog import Catalog, Chain, Cover, Layer, Routing, Step, Target, Team
from bot.migrate.reader import ApiReader, FileReader, ImportFailed
from bot.settings import load_settings
from bot.settings.oncall import Restriction
from tests.unit.migrate.fake_oncall import FakeOnCall, write_folder
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
WEEKDAYS_ONLY = ("mon", "tue", "wed", "thu", "fri")


@pytest.fixture
async def fake() -> AsyncIterator[FakeOnCall]:
    server = FakeOnCall()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def url(fake: FakeOnCall) -> str:
    return f"http://127.0.0.1:{fake.port}"


async def read(fake: FakeOnCall, token: str | None = None) -> Catalog:
    reader = ApiReader(VENDOR.title, url(fake), VENDOR.headers(token or fake.token))
    try:
        return await VENDOR.catalog(reader, NOW)
    finally:
        await reader.close()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- reading -----------------------------------------------------------------------------


async def test_api_and_folder_give_the_same_catalog(fake: FakeOnCall, tmp_path: Path) -> None:
    from_api = await read(fake)
    from_files = await VENDOR.catalog(FileReader(VENDOR.title, write_folder(tmp_path)), NOW)
    assert from_api == from_files
    assert "/api/v1/users/?page=2" in fake.requests  # four users, two a page
    assert "/api/v1/escalation_policies/?page=6" in fake.requests  # twelve steps
    assert "/api/v1/escalation_policies/?page=7" not in fake.requests


async def test_token_goes_bare_in_the_authorization_header() -> None:
    assert VENDOR.headers("abc123")["Authorization"] == "abc123"
    assert VENDOR.default_url is None
    assert VENDOR.name == "oncall"


async def test_people_and_teams(fake: FakeOnCall) -> None:
    catalog = await read(fake)
    assert [(p.origin, p.name, p.email, p.time_zone) for p in catalog.people] == [
        ("UALICE", "alice", "alice@example.com", "America/New_York"),
        ("UBOB", "bob", "bob@example.com", "America/New_York"),
        ("UCAROL", "carol", "carol@example.com", "America/New_York"),
        ("UDAVE", "dave", "dave@example.com", "Asia/Shanghai"),
    ]
    assert catalog.teams == [
        Team("TSRE", "SRE", ("UALICE", "UBOB")),
        Team("TDBA", "DBA", ("UDAVE",)),
    ]


async def test_primary_weekly_rotation_hands_off_at_local_nine(fake: FakeOnCall) -> None:
    catalog = await read(fake)
    primary = next(r for r in catalog.schedules if r.origin == "SPRIMARY")
    assert (primary.name, primary.time_zone, primary.team) == ("Primary", ZONE, "TSRE")
    assert primary.layers == (
        Layer(
            origin="OPRIMARY",
            name="Primary weekly",
            participants=("UALICE", "UBOB", "UCAROL"),
            shift=timedelta(days=7),
            start=datetime(2027, 3, 1, 9, 0),  # wall time, the schedule's zone
            time_zone=ZONE,
        ),
    )
    # Carol covers 12:00-18:00 New York time (EST) on 10 March; Bob's 2 March cover is over.
    assert primary.overrides == (
        Cover("UCAROL", utc("2027-03-10T17:00:00Z"), utc("2027-03-10T23:00:00Z"), "OCOVER"),
    )


async def test_follow_the_sun_layers_in_their_own_zones(fake: FakeOnCall) -> None:
    catalog = await read(fake)
    follow = next(r for r in catalog.schedules if r.origin == "SFOLLOW")
    new_york, shanghai = follow.layers  # level 0 below level 1
    assert new_york == Layer(
        origin="ONEWYORK",
        name="New York days",
        participants=("UCAROL", "UBOB"),
        shift=timedelta(days=7),
        start=datetime(2027, 3, 1, 9, 0),
        time_zone=ZONE,
        restrictions=(Restriction(days=WEEKDAYS_ONLY, start=time(9), end=time(17)),),
    )
    assert shanghai == Layer(
        origin="OSHANGHAI",
        name="Shanghai days",
        participants=("UDAVE",),
        shift=timedelta(days=1),
        start=datetime(2027, 3, 1, 9, 0),
        time_zone="Asia/Shanghai",
        restrictions=(Restriction(start=time(9), end=time(17)),),
    )
    assert follow.overrides == ()


async def test_escalation_chains(fake: FakeOnCall) -> None:
    catalog = await read(fake)
    assert catalog.policies == [
        Chain(
            "FPRIMARY",
            "Primary escalation",
            (
                Step((Target("schedule", "SPRIMARY"),), timedelta(minutes=10)),  # 300 s + 300 s
                Step((Target("user", "UBOB"),), timedelta(minutes=15)),
                Step((Target("team", "TSRE"),), timedelta(minutes=15)),
            ),
            repeat=5,  # OnCall repeats an escalation at most five times
            team="TSRE",
        ),
        Chain(
            "FROUND",
            "DB round robin",
            (
                Step(
                    (Target("user", "UALICE"), Target("user", "UBOB"), Target("user", "UDAVE")),
                    timedelta(minutes=5),
                    round_robin=True,
                ),
            ),
            team="TDBA",
        ),
    ]


async def test_routing_from_default_routes(fake: FakeOnCall) -> None:
    catalog = await read(fake)
    assert catalog.routes == [Routing("CORDERS", "orders", "orders", "FPRIMARY")]


async def test_what_cannot_be_carried_is_reported(fake: FakeOnCall) -> None:
    catalog = await read(fake)
    skipped = {(s.kind, s.origin): s.reason for s in catalog.skipped}
    expected = {
        ("schedule", "SLEGACY"): "iCal schedule",
        ("shift", "OMONTHLY"): "monthly frequency",
        ("schedule", "SMONTHLY"): "no rotation",
        ("escalation step", "E11"): "webhook step",
        ("escalation step", "E12"): "Slack user group",
        ("integration", "CBILLING"): "no escalation chain",
        ("route", "RDATABASE"): "regular expression",
        ("notification rules", "personal_notification_rules"): "paging.channels",
    }
    for key, words in expected.items():
        assert key in skipped, key
        assert words in skipped[key], (key, skipped[key])
    assert len(catalog.skipped) == len(expected)
    assert [(d.kind, d.origin) for d in catalog.differences] == [("escalation step", "E6")]
    assert "important notifications" in catalog.differences[0].reason
    assert [r.origin for r in catalog.schedules] == ["SPRIMARY", "SFOLLOW"]


# -- rotations that only approximately match are skipped with the reason ----------------------


def _with_shift(fake: FakeOnCall, shift_id: str, **changes: Any) -> None:
    shifts = fake.data["on_call_shifts"]
    index = next(i for i, s in enumerate(shifts) if s["id"] == shift_id)
    shifts[index] = {**shifts[index], **changes}


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"interval": 2}, "interval 2"),
        ({"rolling_users": [["UALICE"], [], ["UCAROL"]]}, "empty slot"),
        ({"rolling_users": [["UALICE", "UBOB"], ["UCAROL"]]}, "one person on call"),
        ({"frequency": "daily", "by_day": ["MO", "WE"], "duration": 3600}, "chosen days"),
        ({"by_day": ["MO", "FR"], "week_start": "TU", "duration": 3600}, "week starts on"),
        ({"duration": 8 * 86400}, "overlap"),
    ],
)
async def test_inexact_rotations_are_skipped(
    fake: FakeOnCall, changes: dict[str, Any], words: str
) -> None:
    _with_shift(fake, "OPRIMARY", **changes)
    catalog = await read(fake)
    assert "SPRIMARY" not in [r.origin for r in catalog.schedules]
    reason = next(s.reason for s in catalog.skipped if s.origin == "OPRIMARY")
    assert words in reason


async def test_start_rotation_index_and_shorter_weekly_window(fake: FakeOnCall) -> None:
    _with_shift(fake, "OPRIMARY", start_rotation_from_user_index=1, duration=2 * 86400)
    catalog = await read(fake)
    layer = next(r for r in catalog.schedules if r.origin == "SPRIMARY").layers[0]
    assert layer.participants == ("UBOB", "UCAROL", "UALICE")
    # Monday 09:00 for two days: Monday from 09:00, all Tuesday, Wednesday until 09:00.
    assert layer.restrictions == (
        Restriction(days=("mon",), start=time(9), end=time(0)),
        Restriction(days=("tue",), start=time(0), end=time(0)),
        Restriction(days=("wed",), start=time(0), end=time(9)),
    )


async def test_ended_rotation_is_left_out_and_a_coming_end_reported(fake: FakeOnCall) -> None:
    _with_shift(fake, "OSHANGHAI", until="2027-03-05T00:00:00")
    _with_shift(fake, "ONEWYORK", until="2027-06-01T00:00:00")
    catalog = await read(fake)
    follow = next(r for r in catalog.schedules if r.origin == "SFOLLOW")
    assert [layer.origin for layer in follow.layers] == ["ONEWYORK"]
    assert not any(s.origin == "OSHANGHAI" for s in catalog.skipped + catalog.differences)
    reason = next(s.reason for s in catalog.differences if s.origin == "ONEWYORK")
    assert "ends at 2027-06-01 00:00:00" in reason


# -- failures ------------------------------------------------------------------------------


async def test_bad_token_is_refused_with_oncalls_words(fake: FakeOnCall) -> None:
    with pytest.raises(ImportFailed) as failed:
        await read(fake, token="wrong")
    assert "refused the token" in str(failed.value)
    assert "Invalid token." in str(failed.value)
    assert "HTTP 403" in str(failed.value)


async def test_unreachable_api() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reader = ApiReader(VENDOR.title, f"http://127.0.0.1:{port}", VENDOR.headers("t"))
    try:
        with pytest.raises(ImportFailed, match="cannot reach Grafana OnCall"):
            await VENDOR.catalog(reader, NOW)
    finally:
        await reader.close()


@pytest.mark.parametrize(
    ("name", "index", "changes", "where"),
    [
        ("on_call_shifts", 0, {"duration": "a week"}, "on_call_shifts/ page 1.results[0].duration"),
        ("on_call_shifts", 3, {"by_day": "MO"}, "on_call_shifts/ page 2.results[1].by_day"),
        ("users", 2, {"email": 7}, "users/ page 2.results[0].email"),
        ("escalation_policies", 3, {"persons_to_notify": [None]}, "persons_to_notify[0]"),
        ("schedules", 0, {"time_zone": "Mars/Olympus"}, "results[0].time_zone"),
    ],
)
async def test_malformed_json_names_the_path(
    fake: FakeOnCall, name: str, index: int, changes: dict[str, Any], where: str
) -> None:
    fake.data[name][index] = {**fake.data[name][index], **changes}
    with pytest.raises(ImportFailed) as failed:
        await read(fake)
    assert where in str(failed.value)


async def test_a_page_that_is_not_a_list(fake: FakeOnCall, tmp_path: Path) -> None:
    folder = write_folder(tmp_path)
    (folder / "api" / "v1" / "teams.json").write_text('{"results": {"id": "TSRE"}}')
    with pytest.raises(ImportFailed, match=r"teams/ page 1\.results: expected a list"):
        await VENDOR.catalog(FileReader(VENDOR.title, folder), NOW)


# -- who OnCall itself puts on call ----------------------------------------------------------


async def test_on_call_reads_final_shifts_over_pages(fake: FakeOnCall) -> None:
    catalog = await read(fake)
    reader = ApiReader(VENDOR.title, url(fake), VENDOR.headers(fake.token))
    start = utc(SHADOW_START)
    try:
        shifts = await VENDOR.on_call(
            reader, catalog, "SPRIMARY", start, start + timedelta(days=14)
        )
    finally:
        await reader.close()
    assert [(s.person, s.start, s.end) for s in shifts] == [
        ("UALICE", utc("2027-03-08T05:00:00Z"), utc("2027-03-08T14:00:00Z")),
        ("UBOB", utc("2027-03-08T14:00:00Z"), utc("2027-03-10T17:00:00Z")),
        ("UCAROL", utc("2027-03-10T17:00:00Z"), utc("2027-03-10T23:00:00Z")),
        ("UBOB", utc("2027-03-10T23:00:00Z"), utc("2027-03-15T13:00:00Z")),
        ("UCAROL", utc("2027-03-15T13:00:00Z"), utc("2027-03-22T05:00:00Z")),
    ]
    asked = [r for r in fake.requests if "final_shifts" in r]
    assert "start_date=2027-03-08" in asked[0] and "end_date=2027-03-22" in asked[0]
    assert any("page=3" in r for r in asked)  # six periods overlap, two a page


async def test_on_call_names_unlisted_people_by_email(fake: FakeOnCall) -> None:
    catalog = await read(fake)
    fake.final_shifts["SPRIMARY"] = [
        {
            "user_pk": "UOTHER",
            "user_email": "erin@example.com",
            "user_username": "erin",
            "shift_start": "2027-03-09T00:00:00Z",
            "shift_end": "2027-03-09T06:00:00Z",
        },
        {
            "user_pk": "URENAMED",
            "user_email": "Bob@Example.com",
            "user_username": "bob",
            "shift_start": "2027-03-09T06:00:00Z",
            "shift_end": "2027-03-09T07:00:00Z",
        },
    ]
    reader = ApiReader(VENDOR.title, url(fake), VENDOR.headers(fake.token))
    start = utc(SHADOW_START)
    try:
        shifts = await VENDOR.on_call(reader, catalog, "SPRIMARY", start, start + timedelta(days=2))
    finally:
        await reader.close()
    assert [s.person for s in shifts] == ["erin@example.com", "UBOB"]


# -- end to end through the command ----------------------------------------------------------


def _argv(fake: FakeOnCall, config: Path, *rest: str, token: str | None = None) -> list[str]:
    return ["--config", str(config), "--url", url(fake), "--token", token or fake.token, *rest]


async def test_plan_lists_adds_and_skipped(fake: FakeOnCall, tmp_path: Path) -> None:
    config = tocsin_config(tmp_path)
    before = config.read_bytes()
    result = await cli("import", "oncall", *_argv(fake, config, "--plan", "--as-of", AS_OF))
    assert result.code == 0, result.err
    out = result.out
    for words in ("carol", "dave", "Primary", "Follow the sun", "Primary escalation"):
        assert words in out, words
    for words in ("Legacy calendar", "iCal schedule", "monthly frequency", "webhook step"):
        assert words in out, words
    assert config.read_bytes() == before
    assert not (tmp_path / "oncall-oncall.yaml").exists()


async def test_apply_then_verify(fake: FakeOnCall, tmp_path: Path) -> None:
    config = tocsin_config(tmp_path)
    out = tmp_path / "import-oncall.yaml"
    result = await cli(
        "import", "oncall", *_argv(fake, config, "--apply", "--out", str(out), "--as-of", AS_OF)
    )
    assert result.code == 0, result.err
    written = out.read_text(encoding="utf-8")
    for origin in ("SPRIMARY", "SFOLLOW", "FPRIMARY", "FROUND", "UCAROL", "UDAVE"):
        assert origin in written, origin
    assert out.name in config.read_text(encoding="utf-8")
    settings = load_settings(config)
    schedules = imported_schedules(yaml.safe_load(written))
    primary = settings.schedules[schedules["Primary"]]
    assert primary.time_zone == ZONE
    (rotation,) = primary.rotations
    assert rotation.shift == timedelta(days=7)
    assert rotation.start.replace(tzinfo=None) == datetime(2027, 3, 1, 9, 0)
    assert [o.user for o in primary.overrides] == [user_by_email(settings, "carol@example.com")]
    follow = settings.schedules[schedules["Follow the sun"]]
    assert [r.time_zone or follow.time_zone for r in follow.rotations] == [ZONE, "Asia/Shanghai"]

    shadow = await cli(
        "import", "verify", "oncall",
        *_argv(fake, config, "--start", SHADOW_START, "--days", "14"),
    )  # fmt: skip
    assert shadow.code == 0, shadow.out + shadow.err
    assert shadow.out.count("0 differences") == 2, shadow.out

    fake.final_shifts["SPRIMARY"][3] = {
        **fake.final_shifts["SPRIMARY"][3],
        "user_pk": "UALICE",
        "user_email": "alice@example.com",
        "user_username": "alice",
    }
    changed = await cli(
        "import", "verify", "oncall",
        *_argv(fake, config, "--start", SHADOW_START, "--days", "14"),
    )  # fmt: skip
    assert changed.code == 1
    assert "2027-03-10 18:00" in changed.out  # Bob's part after the override, local time
    assert "alice" in changed.out


async def test_bad_token_changes_nothing(fake: FakeOnCall, tmp_path: Path) -> None:
    config = tocsin_config(tmp_path)
    out = tmp_path / "import-oncall.yaml"
    out.write_text("# an earlier file\n", encoding="utf-8")
    before = (config.read_bytes(), out.read_bytes())
    result = await cli(
        "import", "oncall",
        *_argv(fake, config, "--apply", "--out", str(out), "--as-of", AS_OF, token="nope"),
    )  # fmt: skip
    assert result.code == 1
    assert "refused the token" in result.err and "Invalid token." in result.err
    assert (config.read_bytes(), out.read_bytes()) == before
