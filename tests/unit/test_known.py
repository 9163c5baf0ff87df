"""The per-process memory of known alerts answers only what cannot have changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.alerts.known import KnownAlerts
from tests.support import firing, resolved

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
KEY = (firing().source, firing().fingerprint)


def test_same_occurrence_is_a_repeat() -> None:
    known = KnownAlerts()
    event = firing()
    known.learn(KEY, 7, "firing", event.starts_at, NOW)
    assert known.repeat_of(event, NOW) == 7


def test_anything_else_goes_to_the_database() -> None:
    known = KnownAlerts()
    event = firing()
    known.learn(KEY, 7, "firing", event.starts_at, NOW)
    assert known.repeat_of(resolved(), NOW) is None  # a status change
    later = firing(starts_at=NOW)
    assert known.repeat_of(later, NOW) is None  # another occurrence
    assert known.repeat_of(firing("Other"), NOW) is None  # never seen


def test_resolved_repeats_and_firing_without_start_time_is_never_cached() -> None:
    known = KnownAlerts()
    known.learn(KEY, 7, "resolved", None, NOW)
    assert known.repeat_of(resolved(), NOW) == 7
    known.learn(KEY, 7, "firing", None, NOW)
    assert known.repeat_of(firing(), NOW) is None


def test_entries_expire_are_forgotten_and_bounded() -> None:
    known = KnownAlerts(size=2, ttl=timedelta(seconds=30))
    event = firing()
    known.learn(KEY, 7, "firing", event.starts_at, NOW)
    assert known.repeat_of(event, NOW + timedelta(seconds=31)) is None
    known.learn(KEY, 7, "firing", event.starts_at, NOW)
    known.forget([KEY])
    assert known.repeat_of(event, NOW) is None
    for n in range(3):
        other = firing(instance=f"i-{n}")
        known.learn((other.source, other.fingerprint), n, "firing", other.starts_at, NOW)
    first = firing(instance="i-0")
    assert known.repeat_of(first, NOW) is None  # the oldest made room
