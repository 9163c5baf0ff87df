"""`bot.store.slots`: a slow pass runs on one replica at a time, when due, and can be made due
again at once or put off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store.db import Database
from bot.store.slots import Claim, Slot

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
EVERY = timedelta(minutes=5)


async def test_the_first_run_is_at_once_on_one_replica_only(db: Database) -> None:
    first, second = Slot(db, "pass"), Slot(db, "pass")
    assert await first.claim(T0, EVERY) == Claim()
    assert await second.claim(T0, EVERY) is None
    assert await second.claim(T0 + EVERY - timedelta(seconds=1), EVERY) is None
    later = T0 + EVERY
    assert await second.claim(later, EVERY) == Claim(due_at=T0 + EVERY, ran_at=T0)
    assert await first.claim(later, EVERY) is None


async def test_a_pass_can_wait_an_interval_before_its_first_run(db: Database) -> None:
    slot = Slot(db, "prune")
    assert await slot.claim(T0, EVERY, first_at_once=False) is None
    assert await Slot(db, "prune").claim(T0 + EVERY, EVERY) == Claim(T0 + EVERY, None)


async def test_due_makes_it_run_again_at_once_or_puts_it_off(db: Database) -> None:
    slot, other = Slot(db, "read"), Slot(db, "read")
    assert await slot.claim(T0, EVERY) is not None
    await slot.due(T0)  # a backlog: at once, on whichever replica comes first
    assert await other.claim(T0 + timedelta(seconds=1), EVERY) is not None
    await other.due(T0 + timedelta(hours=1))  # a back-off
    fresh = Slot(db, "read")
    assert await fresh.claim(T0 + timedelta(minutes=59), EVERY) is None
    assert await fresh.claim(T0 + timedelta(hours=1), EVERY) is not None


async def test_slots_of_different_names_do_not_meet(db: Database) -> None:
    assert await Slot(db, "a").claim(T0, EVERY) is not None
    assert await Slot(db, "b").claim(T0, EVERY) is not None
