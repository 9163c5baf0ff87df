"""Work a chat adapter starts after answering its platform, kept track of so it can be awaited
or stopped.

Platforms give a few seconds to answer a press or a message, so adapters acknowledge at once
and hand the slow part (the core's work, the reply) to `Work`. `within` answers *with* the
result when it is ready in time (e.g. a passive reply) and hands it to a callback when it is
not. Nothing is fire-and-forget: `idle()` waits for what runs, `aclose()` lets it finish for a
bounded time and then cancels it (saying what was cut off), and a failure is logged with its
platform, never lost silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)
T = TypeVar("T")
DRAIN = 10.0
"""Seconds `aclose` lets running work finish before cancelling it."""


class Work:
    def __init__(self, platform: str) -> None:
        self.platform = platform
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, job: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._guarded(job, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # cancelled before it started, `job` was never awaited: close it (no warning, no leak)
        task.add_done_callback(lambda done: job.close() if done.cancelled() else None)
        return task

    async def within(
        self,
        job: Coroutine[Any, Any, T],
        seconds: float,
        *,
        name: str,
        late: Callable[[T], Awaitable[None]],
    ) -> T | None:
        """`job`'s result if it finishes within `seconds`; else None, and `late(result)` is
        called when it does finish. The job is never cancelled for being slow."""
        done: list[T] = []
        overdue = False

        async def run() -> None:
            value = await job
            if overdue:
                await late(value)
            else:
                done.append(value)

        task = self.spawn(run(), name=name)
        await asyncio.wait({task}, timeout=max(seconds, 0.0))
        if done:
            return done[0]
        overdue = True
        return None

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def idle(self) -> None:
        """Wait until everything started so far (and anything it started) has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self, grace: float = DRAIN) -> None:
        """Let what runs finish for up to `grace` seconds (a press the platform was told is
        taken should be carried out, not cut off by a restart), then cancel the rest, naming
        what was cut off."""
        deadline = asyncio.get_running_loop().time() + max(grace, 0.0)
        while self._tasks:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await asyncio.wait(set(self._tasks), timeout=left)
        tasks = list(self._tasks)
        if tasks:
            log.warning(
                "inbound work cut off at shutdown",
                platform=self.platform,
                work=sorted(task.get_name() for task in tasks),
                grace=grace,
            )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _guarded(self, job: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await job
        except Exception:
            log.exception("inbound work failed", platform=self.platform, work=name)
