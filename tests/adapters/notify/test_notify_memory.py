"""The in-memory notifier the core's tests and the demo page through."""

from __future__ import annotations

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
    notifier: Notifier = made["email"]
    assert isinstance(notifier, MemoryNotifier) and notifier.channel == "email"
    await notifier.aclose()
    assert notifier.closed
