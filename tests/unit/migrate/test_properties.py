"""Properties over generated schedules (the on-call tests' strategies, DST changes inside):
a schedule carried through the import's body is the same schedule, and a schedule's own iCal
feed verifies against it with no difference, while any changed hand-off is found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.migrate.body import schedule_body
from bot.migrate.catalog import Layer, Rota
from bot.migrate.flows import held_from_ical
from bot.migrate.verify import Held, compare
from bot.oncall.ical import export_ics
from bot.oncall.timeline import timeline
from bot.settings.oncall import Schedule
from tests.support import make_settings
from tests.unit.oncall.oncall_strategies import PEOPLE, schedules, windows

some = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
USERS = make_settings(users=[{"id": p, "name": p.title()} for p in PEOPLE])
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def as_catalog(schedule: Schedule) -> Rota:
    layers = tuple(
        Layer(f"L{i}", r.name, r.participants, r.shift, r.start, r.time_zone, r.restrictions)
        for i, r in enumerate(schedule.rotations)
    )
    return Rota("S", "generated", schedule.time_zone, layers)


@some
@given(schedules(), windows(longest=timedelta(days=14)))
def test_a_carried_schedule_is_the_same_schedule(
    schedule: Schedule, window: tuple[datetime, datetime]
) -> None:
    body, problems = schedule_body(as_catalog(schedule), {p: p for p in PEOPLE}, NOW)
    assert body is not None and problems == []
    carried = Schedule.model_validate(body)
    assert timeline(carried, *window) == timeline(schedule, *window)


@some
@given(schedules(), windows(longest=timedelta(days=14)), st.data())
def test_a_schedules_own_feed_verifies_and_a_moved_hand_off_does_not(
    schedule: Schedule, window: tuple[datetime, datetime], data: st.DataObject
) -> None:
    start, end = window
    feed = export_ics("s", schedule, start, end, now=NOW)
    held = held_from_ical(feed, USERS, start, end)
    assert compare(schedule, held, start, end, vendor="Old") == []
    if not held:
        return
    index = data.draw(st.integers(0, len(held) - 1))
    moved = held[index]
    cut = moved.start + (moved.end - moved.start) / 2
    held[index] = Held(moved.start, cut, moved.person)
    found = compare(schedule, held, start, end, vendor="Old")
    assert [(d.start, d.end, d.old, d.new) for d in found] == [(cut, moved.end, (), moved.person)]
