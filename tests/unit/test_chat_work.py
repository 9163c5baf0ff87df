"""`Work`: inbound work started after answering a platform is drained at shutdown, not cut."""

from __future__ import annotations

import asyncio
import gc

import structlog

from adapters.chat.work import Work


async def test_shutdown_lets_running_work_finish() -> None:
    work, done = Work("slack"), []

    async def press() -> None:
        await asyncio.sleep(0.05)
        done.append("rollback")

    work.spawn(press(), name="press")
    await work.aclose(grace=5)

    assert done == ["rollback"] and work.running == 0


async def test_work_past_the_grace_is_cancelled_and_named() -> None:
    work, started = Work("wecom"), asyncio.Event()

    async def stuck() -> None:
        started.set()
        await asyncio.Event().wait()

    task = work.spawn(stuck(), name="press:rollback")
    await started.wait()
    with structlog.testing.capture_logs() as logs:
        await work.aclose(grace=0.01)

    assert task.cancelled() and work.running == 0
    [cut] = [entry for entry in logs if entry["event"] == "inbound work cut off at shutdown"]
    assert cut["work"] == ["press:rollback"] and cut["platform"] == "wecom"


async def test_work_cut_off_before_it_started_leaves_no_coroutine_behind() -> None:
    """Cancelled before its first step, the job is closed, not left never awaited (which
    Python reports as a warning, an error in these tests)."""
    work, ran = Work("slack"), []

    async def press() -> None:
        ran.append(1)

    task = work.spawn(press(), name="press")
    await work.aclose(grace=0)
    gc.collect()

    assert task.cancelled() and ran == []
