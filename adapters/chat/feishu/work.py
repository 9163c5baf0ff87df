"""Work started after Feishu has been answered, kept track of so it can be awaited or stopped.

Inbound events are acknowledged at once; the slow part (the core's work, the reply) runs in
`Work`. Nothing is fire-and-forget: `idle()` waits for what runs, `aclose()` cancels it, and a
failure is logged, never lost silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class Work:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, job: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run `job` on the running loop (call from that loop's thread)."""
        task = asyncio.get_running_loop().create_task(self._guarded(job, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def idle(self) -> None:
        """Wait until everything started so far (and anything it started) has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel what still runs and wait for it to stop."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _guarded(job: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await job
        except Exception:
            log.exception("feishu inbound work failed", work=name)
