"""The pager contract, run against every provider on every channel it serves, and the in-memory
fake.

A sent page comes back as a `Receipt` naming the provider, with a message id, and the provider
has it. A rate limit or server error is `RetryableDelivery`; wrong credentials are
`PermanentDelivery`; a provider out of reach is `RetryableDelivery`. Nothing is taken by the
provider when a send fails. `aclose` may be called twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import Receipt
from tests.contract.notify_subjects import SUBJECTS, PagerSubject


@pytest.fixture(params=sorted(SUBJECTS))
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[PagerSubject]:
    async with SUBJECTS[request.param]() as made:
        yield made


async def test_a_sent_page_has_a_receipt(subject: PagerSubject) -> None:
    notifier = subject.make()
    assert notifier.provider == subject.provider and notifier.channel == subject.page.channel
    receipt = await notifier.send(subject.page)
    assert isinstance(receipt, Receipt)
    assert receipt.provider == subject.provider and receipt.message_id.strip()
    assert subject.delivered() == 1


async def test_a_rate_limit_or_outage_is_retryable(subject: PagerSubject) -> None:
    notifier = subject.make()
    subject.throttle()
    with pytest.raises(RetryableDelivery):
        await notifier.send(subject.page)
    assert subject.delivered() == 0


async def test_wrong_credentials_are_permanent(subject: PagerSubject) -> None:
    with pytest.raises(PermanentDelivery):
        await subject.make(**subject.wrong_credentials).send(subject.page)
    assert subject.delivered() == 0


async def test_a_provider_out_of_reach_is_retryable(subject: PagerSubject) -> None:
    with pytest.raises(RetryableDelivery):
        await subject.make(**subject.unreachable).send(subject.page)


async def test_aclose_is_safe_twice(subject: PagerSubject) -> None:
    notifier = subject.make()
    await notifier.send(subject.page)
    await notifier.aclose()
    await notifier.aclose()
