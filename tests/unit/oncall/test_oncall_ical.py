"""iCalendar export and override import: round trip, folding, escaping, and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oncall_strategies import PEOPLE, schedules_and_windows

from bot.oncall import Override, timeline
from bot.oncall.ical import export_ics, parse_overrides
from bot.oncall.ics import escape, fold, unescape, unfold
from bot.settings.oncall import Rotation, Schedule

NOW = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = {p: f"{p.title()} 名字, Esq.; \\ {p}" for p in PEOPLE}
USERS = {name.lower(): user for user, name in NAMES.items()}
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)


def ics(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{body}END:VCALENDAR\r\n"


@settings(max_examples=60, deadline=None)
@given(schedules_and_windows(longest=timedelta(days=5)), st.data())
def test_export_then_import_recovers_the_segments(
    case: tuple[Schedule, tuple[datetime, datetime]], data: st.DataObject
) -> None:
    schedule, (start, end) = case
    name = data.draw(st.sampled_from(["primary", "db, ops; \\ team", "值班表"]))
    exported = export_ics(name, schedule, start, end, names=NAMES, now=NOW)
    expected = [(s.user, s.start, s.end) for s in timeline(schedule, start, end) if s.user]
    imported = parse_overrides(exported, USERS)
    assert [(o.user, o.start, o.end) for o in imported] == expected
    assert len({o.id for o in imported}) == len(imported)
    assert export_ics(name, schedule, start, end, names=NAMES, now=NOW) == exported


def test_export_layout() -> None:
    schedule = Schedule(
        rotations=(
            Rotation(name="d", participants=("ann",), shift="daily", start=datetime(2026, 1, 1)),
        )
    )
    out = export_ics(
        "primary",
        schedule,
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 2, 1, 6, tzinfo=UTC),
        [Override("bob", datetime(2026, 2, 1, 2, tzinfo=UTC), datetime(2026, 2, 1, 3, tzinfo=UTC))],
        names={"ann": "Ann Lee"},
        now=datetime(2026, 1, 31, 8, 30, tzinfo=UTC),
        domain="example.org",
    )
    lines = out.split("\r\n")
    assert out.endswith("END:VCALENDAR\r\n") and "\n" not in out.replace("\r\n", "")
    assert lines[:2] == ["BEGIN:VCALENDAR", "VERSION:2.0"]
    assert "X-WR-CALNAME:On call: primary" in lines
    assert lines.count("BEGIN:VEVENT") == 3
    assert "SUMMARY:On call: Ann Lee (primary)" in lines
    assert "SUMMARY:On call: bob (primary)" in lines
    assert "DTSTART:20260201T020000Z" in lines and "DTEND:20260201T030000Z" in lines
    assert lines.count("DTSTAMP:20260131T083000Z") == 3
    uids = [line for line in lines if line.startswith("UID:")]
    assert len(set(uids)) == 3 and all(u.endswith("@example.org") for u in uids)


@given(text)
def test_escape_round_trips(value: str) -> None:
    escaped = escape(value)
    assert "\n" not in escaped and "\r" not in escaped
    assert unescape(escaped) == value.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=200, deadline=None)
@given(text)
def test_folded_lines_are_at_most_75_octets_and_unfold_back(value: str) -> None:
    line = "SUMMARY:" + escape(value)
    folded = fold(line)
    pieces = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:])
    assert unfold(folded) == [(1, line)]


def test_escaping_in_the_export() -> None:
    schedule = Schedule(
        rotations=(Rotation(name="d", participants=("x",), start=datetime(2026, 1, 1)),)
    )
    out = export_ics(
        "a,b;c\\d",
        schedule,
        NOW,
        NOW + timedelta(hours=1),
        names={"x": "Line\nTwo"},
        now=NOW,
    )
    assert "SUMMARY:On call: Line\\nTwo (a\\,b\\;c\\\\d)\r\n" in out


def test_time_forms_and_people_on_import() -> None:
    users = {"ann": "u-ann", "bob@example.com": "u-bob", "cai": "u-cai", "dee": "u-dee"}
    text = ics(
        "UID:1\nSUMMARY:Ann\nDTSTART:20260301T090000Z\nDTEND:20260301T100000Z",
        "UID:2\nSUMMARY:cover\nATTENDEE;CN=Someone:MAILTO:Bob@Example.com\n"
        "DTSTART;TZID=America/New_York:20260308T013000\nDTEND;TZID=America/New_York:20260308T033000",
        "UID:3\nSUMMARY:On call: Cai (primary)\n"
        "DTSTART;VALUE=DATE:20260310\nDTEND;VALUE=DATE:20260312",
        'UID:4\nSUMMARY:swap\nORGANIZER;CN="Dee":mailto:nobody@example.com\n'
        "DTSTART:20260401T080000\nDURATION:PT1H30M",
        "UID:5\nSUMMARY:ann\nDTSTART;VALUE=DATE:20260402",
        "UID:6\nSUMMARY:nobody\nSTATUS:CANCELLED\nDTSTART:20260402T000000Z\nDTEND:20260403T000000Z",
    )
    assert parse_overrides(text.replace("\r\n", "\n"), users) == [
        Override(
            "u-ann",
            datetime(2026, 3, 1, 9, tzinfo=UTC),
            datetime(2026, 3, 1, 10, tzinfo=UTC),
            "1",
            "Ann",
        ),
        Override(
            "u-bob",
            datetime(2026, 3, 8, 6, 30, tzinfo=UTC),
            datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
            "2",
            "cover",
        ),
        Override(
            "u-cai",
            datetime(2026, 3, 10, tzinfo=UTC),
            datetime(2026, 3, 12, tzinfo=UTC),
            "3",
            "On call: Cai (primary)",
        ),
        Override(
            "u-dee",
            datetime(2026, 4, 1, 8, tzinfo=UTC),
            datetime(2026, 4, 1, 9, 30, tzinfo=UTC),
            "4",
            "swap",
        ),
        Override(
            "u-ann", datetime(2026, 4, 2, tzinfo=UTC), datetime(2026, 4, 3, tzinfo=UTC), "5", "ann"
        ),
    ]


def test_time_zones_alarms_and_folded_lines_are_understood() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\n"
        "DTSTART:19701025T030000\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        "BEGIN:VEVENT\r\nSUMM\r\n ARY:On call: A\r\n\tnn (x)\r\n"
        'DTSTART;TZID="Europe/Berlin":20260701T100000\r\n'
        "DTEND;TZID=Europe/Berlin:20260701T120000\r\nBEGIN:VALARM\r\nTRIGGER:-PT15M\r\n"
        "DTSTART:20000101T000000Z\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    [override] = parse_overrides(text, {"ann": "u1"})
    assert (override.user, override.start, override.end) == (
        "u1",
        datetime(2026, 7, 1, 8, tzinfo=UTC),
        datetime(2026, 7, 1, 10, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello", "line 1: expected ':'"),
        ("", "no BEGIN:VCALENDAR"),
        ("BEGIN:VEVENT\nEND:VEVENT", "line 1: expected BEGIN:VCALENDAR"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VCALENDAR", "line 3: END:VCALENDAR does not close"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:ann", "line 2: BEGIN:VEVENT is never closed"),
        ("SUMMARY:ann", "line 1: SUMMARY outside BEGIN:VCALENDAR"),
        (" folded", "line 1: continuation line"),
        ("BEGIN:VCALENDAR\nX;=1:2\nEND:VCALENDAR", "line 2: malformed parameter"),
        (
            ics("SUMMARY:ann\nDTSTART:20260101T000000Z\nDTEND:20260101T010000Z\nRRULE:FREQ=DAILY"),
            "line 3: recurring events are not supported",
        ),
        (ics("SUMMARY:ann\nDTEND:20260101T010000Z"), "line 3: event has no DTSTART"),
        (ics("SUMMARY:ann\nDTSTART:20260101T000000Z"), "line 3: event has no DTEND or DURATION"),
        (
            ics("SUMMARY:ann\nDTSTART:20260101T000000Z\nDTEND:20260101T000000Z"),
            "line 3: event ends",
        ),
        (
            ics("SUMMARY:ann\nDTSTART:2026-01-01\nDTEND:20260101T010000Z"),
            "line 5: DTSTART '2026-01-01' is not a date",
        ),
        (
            ics("SUMMARY:ann\nDTSTART:20261301T000000Z\nDTEND:20260101T010000Z"),
            "line 5: DTSTART '20261301T000000Z' is not a date",
        ),
        (
            ics("SUMMARY:ann\nDTSTART;TZID=Mars/Base:20260101T000000\nDTEND:20260101T010000Z"),
            "line 5: unknown time zone 'Mars/Base'",
        ),
        (ics("SUMMARY:ann\nDTSTART:20260101T000000Z\nDURATION:soon"), "line 6: DURATION 'soon'"),
        (
            ics("SUMMARY:zed\nDTSTART:20260101T000000Z\nDTEND:20260101T010000Z"),
            "line 3: no known person in event 'zed'",
        ),
    ],
)
def test_malformed_input_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_overrides(text, {"ann": "u1"})
