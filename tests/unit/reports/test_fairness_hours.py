"""Working hours in a person's zone, across daylight-saving changes, worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.reports.fairness_hours import is_off_hours, off_hours

NEW_YORK, LONDON = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")


def test_a_weekend_across_the_spring_change_is_an_hour_short_and_all_off_hours() -> None:
    # Friday 2027-03-12 00:00 EST to Monday 2027-03-15 00:00 EDT: 72 wall hours, 71 real ones;
    # Friday 09:00-18:00 is the only working time.
    start = datetime(2027, 3, 12, 5, tzinfo=UTC)
    end = datetime(2027, 3, 15, 4, tzinfo=UTC)
    assert end - start == timedelta(hours=71)
    assert off_hours(start, end, NEW_YORK) == timedelta(hours=62)


def test_working_hours_follow_the_wall_clock_after_the_change() -> None:
    # Monday 2027-03-15 09:00 EDT is 13:00 UTC (it was 14:00 UTC the Monday before).
    assert is_off_hours(datetime(2027, 3, 15, 12, 59, tzinfo=UTC), NEW_YORK)
    assert not is_off_hours(datetime(2027, 3, 15, 13, 0, tzinfo=UTC), NEW_YORK)
    assert is_off_hours(datetime(2027, 3, 8, 13, 0, tzinfo=UTC), NEW_YORK)
    # London changes two weeks later: Monday 2027-03-29 09:00 BST is 08:00 UTC.
    assert not is_off_hours(datetime(2027, 3, 29, 8, 0, tzinfo=UTC), LONDON)
    assert is_off_hours(datetime(2027, 3, 29, 17, 0, tzinfo=UTC), LONDON)


def test_one_stretch_counts_the_evening_and_the_night_but_not_the_day() -> None:
    # Tuesday 12:00 to Wednesday 12:00 in London (winter): 6 h of Tuesday's work day and 3 h of
    # Wednesday's are working time; the other 15 h are not.
    start = datetime(2027, 1, 5, 12, tzinfo=UTC)
    assert off_hours(start, start + timedelta(days=1), LONDON) == timedelta(hours=15)
    assert off_hours(start, start, LONDON) == timedelta(0)
