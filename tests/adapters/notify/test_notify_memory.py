"""The in-memory notifier the core's tests and the demo page through."""

from __future__ import annotations

import asyncio

import pytest
from notify_support import page

from adapters.notify import MemoryNotifier, create
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import Notifier


async def test_records_pages_and_gives_receipts() -> None:
    sms = MemoryNotifier("sms")
    first = await sms.send(page())
    second = await sms.send(page(to="+8613900139000"))
    assert [p.to for p in sms.sent] == ["+8613800138000", "+8613900139000"]
    assert (first.provider, first.message_id, second.message_id) == ("memory", "sms-1", "sms-2")
    assert sms.to("+8613900139000") == [sms.sent[1]]


async def test_fails_the_next_sends_as_told() -> None:
    voice = MemoryNotifier("voice")
    voice.fail_next(2, retry_after=30)
    voice.fail_next(permanent=True)
    for _ in range(2):
        with pytest.raises(RetryableDelivery) as caught:
            await voice.send(page("voice"))
        assert caught.value.retry_after == 30
    with pytest.raises(PermanentDelivery):
        await voice.send(page("voice"))
    await voice.send(page("voice"))
    assert voice.attempts == 4 and len(voice.sent) == 1


async def test_is_a_notifier_made_from_settings() -> None:
    made = create({"sms": {"provider": "memory"}, "email": {"provider": "memory"}})
    assert set(made) == {"sms", "email"}
    (provider,) = made["email"]
    notifier: Notifier = provider.notifier
    assert isinstance(notifier, MemoryNotifier) and notifier.channel == "email"
    await notifier.aclose()
    assert notifier.closed


async def test_refused_numbers_fail_for_good_and_a_hanging_send_waits_for_release() -> None:
    sms = MemoryNotifier("sms")
    sms.refused.add("+8613800138000")
    with pytest.raises(PermanentDelivery):
        await sms.send(page("sms"))
    sms.hanging = True
    waiting = asyncio.create_task(sms.send(page("sms")))
    await asyncio.sleep(0)
    assert not waiting.done()
    sms.release()
    with pytest.raises(RetryableDelivery):
        await waiting
    assert sms.sent == [] and sms.attempts == 2
