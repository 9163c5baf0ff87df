"""Calls to outside systems, flown beside the engine's passes instead of inside them.

A pass that waited on a deploy backend's poll or a metrics query would hold up everything after
it: one Prometheus that hangs for its whole timeout used to hold every other service's deploy,
rollback and card for as long. So a pass only *claims* work (a row leased in the database, the
lease being the fence against a second replica) and hands each call to `Flights`, which runs at
most `limit` of them at once, each bounded by its own deadline. A call's result comes back the
way every event does here: the call writes it to the database under its lease, and the passes
that follow read it.

A pass asks for `room` before claiming, so it never leases more rows than can fly now (a row
leased but waiting would only run its lease down). `drain` waits for what is in the air: the
engine ticked by hand (tests, one-shot commands) drains after each pass, so a tick still does
everything it did; a started engine never waits, and drains only when it stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class Flights:
    def __init__(self, name: str, limit: int) -> None:
        self.name, self.limit = name, limit
        self._tasks: set[asyncio.Task[None]] = set()
        self._keys: dict[asyncio.Task[None], int] = {}

    @property
    def room(self) -> int:
        """How many more calls may start now."""
        return max(0, self.limit - len(self._tasks))

    @property
    def in_air(self) -> list[int]:
        """The keys (row ids) of the calls in the air: a pass does not claim them again, even
        when their lease ran out meanwhile (a clock that jumped), so one call that hangs never
        takes a second slot."""
        return sorted(set(self._keys.values()))

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, call: Coroutine[Any, Any, None], key: int) -> None:
        """Fly `call` for the row `key`; its failure is logged here (it has nobody else to
        tell), and its lease lets the work be claimed again."""
        task = asyncio.get_running_loop().create_task(self._fly(call))
        self._tasks.add(task)
        self._keys[task] = key
        task.add_done_callback(self._landed)

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._keys.pop(task, None)

    async def _fly(self, call: Coroutine[Any, Any, None]) -> None:
        try:
            await call
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call failed", flights=self.name)

    async def drain(self) -> None:
        """Wait for the calls in the air (and any spawned meanwhile)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def cancel(self) -> None:
        """Cut what is still in the air (its lease runs out and the work is claimed again)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
