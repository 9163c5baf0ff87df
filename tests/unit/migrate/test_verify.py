"""Shadow mode's comparison, with the old tool's on-call written out by hand: zero differences
when the tools agree across a clock change, and each kind of difference named with its cause."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml

from bot.migrate.verify import Comparison, Difference, Held, compare, report
from bot.settings.oncall import Schedule
from tests.unit.migrate.harness import cli, tocsin_config
from tests.unit.migrate.stub import at

START = at(8, 5)  # Monday 8 March 2027, midnight in New York (EST)
END = START + timedelta(days=14)
WEEKLY = Schedule.model_validate(
    {
        "time_zone": "America/New_York",
        "rotations": [
            {
                "name": "weekly",
                "participants": ["alice", "bob", "carol"],
                "start": "2027-03-01T09:00:00",
            }
        ],
    }
)
# Hand-offs at 09:00 New York time: 14:00Z on 8 March (EST), 13:00Z on 15 March (EDT).
AGREEING = [
    Held(at(1, 14), at(8, 14), "alice"),
    Held(at(8, 14), at(15, 13), "bob"),
    Held(at(15, 13), at(22, 13), "carol"),
]


def differences(held: list[Held]) -> list[Difference]:
    return compare(WEEKLY, held, START, END, vendor="Old")


def test_agreeing_tools_have_no_difference_across_the_clock_change() -> None:
    assert differences(AGREEING) == []
    lines = report(
        Comparison("primary", "Old schedule S1", WEEKLY.time_zone, START, END, []), "Old"
    )
    assert lines == [
        "schedule primary (Old schedule S1), Mon 2027-03-08 00:00 EST → Mon 2027-03-22 01:00 EDT "
        "America/New_York: 0 differences in 336 hours"
    ]


def test_a_hand_off_kept_at_utc_time_is_put_down_to_the_clock_change() -> None:
    held = [AGREEING[0], Held(at(8, 14), at(15, 14), "bob"), Held(at(15, 14), at(22, 14), "carol")]
    [found] = differences(held)
    assert (found.start, found.end, found.old, found.new) == (
        at(15, 13),
        at(15, 14),
        ("bob",),
        "carol",
    )
    assert "after the clock change of Sun 14 Mar 2027 the hand-offs are 1h apart" in found.why
    comparison = Comparison("primary", "Old schedule S1", WEEKLY.time_zone, START, END, [found])
    assert comparison.hours_differing == 1
    assert report(comparison, "Old")[1] == (
        "  Mon 2027-03-15 09:00 EDT → Mon 2027-03-15 10:00 EDT (1h): Old bob · Tocsin carol — "
        + found.why
    )


def test_two_people_at_once_nobody_and_someone_else_are_each_named() -> None:
    held = [
        AGREEING[0],
        Held(at(8, 14), at(10, 0), "bob"),
        # 10 March 00:00–06:00Z: nobody in the old tool
        Held(at(10, 6), at(15, 13), "bob"),
        Held(at(12, 1), at(12, 2, 30), "dave"),
        Held(at(15, 13), at(20, 0), "carol"),
        Held(at(20, 0), at(22, 13), "?erin@example.com"),
    ]
    found = differences(held)
    assert [(d.start, d.end, d.old, d.new) for d in found] == [
        (at(10, 0), at(10, 6), (), "bob"),
        (at(12, 1), at(12, 2, 30), ("bob", "dave"), "bob"),
        (at(20, 0), END, ("?erin@example.com",), "carol"),
    ]
    assert found[0].why == "Old has nobody on call here"
    assert found[1].why.startswith("Old has 2 people on call at once here")
    assert found[2].why == ""
    comparison = Comparison("primary", "x", WEEKLY.time_zone, START, END, found)
    # 6 hours, then 01:00–02:30 touches two hours, then 20 Mar 00:00Z to the end (53 hours)
    assert comparison.hours_differing == 6 + 2 + 53


def test_a_missing_stretch_in_tocsin_is_named() -> None:
    schedule = Schedule.model_validate(
        {
            "time_zone": "UTC",
            "rotations": [
                {
                    "name": "day",
                    "participants": ["alice"],
                    "start": "2027-03-01T00:00",
                    "shift": "1d",
                    "restrictions": [{"start": "08:00", "end": "20:00"}],
                }
            ],
        }
    )
    held = [Held(at(8, 8), at(8, 21), "alice")]
    found = compare(schedule, held, at(8, 0), at(9, 0), vendor="Old")
    assert [(d.start, d.end, d.old, d.new, d.why) for d in found] == [
        (at(8, 20), at(8, 21), ("alice",), None, "Tocsin has nobody on call here")
    ]


FEED = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Old Tool//Schedules//EN\r
BEGIN:VEVENT\r
UID:one@old\r
DTSTART;TZID=America/New_York:20270301T090000\r
DTEND;TZID=America/New_York:20270308T090000\r
SUMMARY:On Call - Alice A. - Primary\r
ATTENDEE:mailto:alice@example.com\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:two@old\r
DTSTART;TZID=America/New_York:20270308T090000\r
DTEND;TZID=America/New_York:20270315T090000\r
SUMMARY:On Call - Bob B. - Primary\r
ATTENDEE:mailto:bob@example.com\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:three@old\r
DTSTART;TZID=America/New_York:20270315T090000\r
DTEND;TZID=America/New_York:20270322T090000\r
SUMMARY:On Call - Carol C. - Primary\r
ATTENDEE;CN=Carol:mailto:carol@example.com\r
END:VEVENT\r
END:VCALENDAR\r
"""


async def test_an_ical_feed_is_compared_through_the_command(tmp_path: Path) -> None:
    config = tocsin_config(tmp_path, schedules={"primary": WEEKLY.model_dump(mode="json")})
    raw = yaml.safe_load(config.read_text())
    raw["users"][2]["contact"] = {"email": "carol@example.com"}
    raw["schedules"]["primary"]["rotations"][0]["shift"] = "7d"
    config.write_text(yaml.safe_dump(raw))
    feed = tmp_path / "primary.ics"
    feed.write_text(FEED, newline="")
    argv = ("import", "verify", "ical", "--config", str(config), "--schedule", "primary")
    agreed = await cli(*argv, "--feed", str(feed), "--start", START.isoformat())
    assert agreed.code == 0, agreed
    assert "0 differences in 336 hours" in agreed.out
    feed.write_text(FEED.replace("20270315T090000", "20270315T100000"), newline="")
    differed = await cli(*argv, "--feed", str(feed), "--start", START.isoformat())
    assert differed.code == 1
    assert "1 difference, 1 of 336 hours differ" in differed.out
    assert (
        "Mon 2027-03-15 09:00 EDT → Mon 2027-03-15 10:00 EDT (1h): iCal bob · Tocsin carol"
        in differed.out
    )
    missing = await cli(*argv, "--feed", str(tmp_path / "none.ics"))
    assert (missing.code, "cannot read the feed" in missing.err) == (1, True)
