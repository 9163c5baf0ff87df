"""The chat-platform contract, run against every real adapter and its fake on 127.0.0.1.

Each platform shows a posted card with its status; a changed card is shown as the platform
declares (`ChatCapabilities.update_in_place`: replaced in place through the returned ref, or —
as the core does for a platform that cannot edit — posted anew next to the old one); texts are
shown, whether they reply to a card or not; a destination that cannot exist is
`PermanentDelivery`; a platform that cannot be reached is `RetryableDelivery`. A platform
without buttons (`ChatCapabilities.buttons` False) is given the signed links the core gives it,
and shows them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.errors import PermanentDelivery, RetryableDelivery
from bot.model import ActionKind, Button, Card, Field, Tier
from tests.contract.chat_subjects import SUBJECTS, ChatSubject

WECOM_SPENT_CODE = (
    "WeCom's app declares update_in_place=True, but a response code updates a card once: "
    "a second update with no button press in between posts a new card beside the old one"
)
LINK = "https://tocsin.test/a/signed-token"


def card(status: str, *, linked: bool = False) -> Card:
    return Card(
        ref="incident:7",
        title="HighErrorRate · orders",
        tier=Tier.P1,
        status=status,
        fields=(Field("Service", "orders"),),
        body="5xx over 5 %",
        buttons=(Button("Acknowledge", ActionKind.ACK, url=LINK if linked else None),),
    )


@pytest.fixture(params=sorted(SUBJECTS))
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[ChatSubject]:
    async with SUBJECTS[request.param]() as made:
        yield made


async def test_posted_card_is_shown(subject: ChatSubject) -> None:
    await subject.platform.post_card(subject.dest, card("triggered"), lang="en")
    assert subject.statuses() == ["triggered"]


async def test_a_changed_card_is_shown_as_declared(subject: ChatSubject) -> None:
    platform, dest = subject.platform, subject.dest
    ref = await platform.post_card(dest, card("triggered"), lang="en")
    if platform.capabilities.update_in_place:
        await platform.update_card(dest, ref, card("acknowledged"), lang="en")
        assert subject.statuses() == ["acknowledged"]
    else:
        await platform.post_card(dest, card("acknowledged"), lang="en")
        assert subject.statuses() == ["triggered", "acknowledged"]


async def test_the_ref_an_update_returns_updates_again(
    subject: ChatSubject, request: pytest.FixtureRequest
) -> None:
    """The core stores the ref `update_card` returns and updates through it next time."""
    platform, dest = subject.platform, subject.dest
    if not platform.capabilities.update_in_place:
        return
    if subject.name == "wecom":
        request.applymarker(pytest.mark.xfail(strict=True, reason=WECOM_SPENT_CODE))
    ref = await platform.post_card(dest, card("triggered"), lang="en")
    ref = await platform.update_card(dest, ref, card("acknowledged"), lang="en")
    await platform.update_card(dest, ref, card("resolved"), lang="en")
    assert subject.statuses() == ["resolved"]


async def test_texts_are_shown_and_may_reply_to_a_card(subject: ChatSubject) -> None:
    ref = await subject.platform.post_card(subject.dest, card("triggered"), lang="en")
    await subject.platform.post_text(subject.dest, "Alice acknowledged #7", reply_to=ref)
    await subject.platform.post_text(subject.dest, "plain", reply_to=None)
    assert subject.texts() == ["Alice acknowledged #7", "plain"]


async def test_impossible_destination_is_permanent(subject: ChatSubject) -> None:
    with pytest.raises(PermanentDelivery):
        await subject.platform.post_card(subject.bad_dest, card("triggered"), lang="en")
    with pytest.raises(PermanentDelivery):
        await subject.platform.post_text(subject.bad_dest, "x", reply_to=None)
    assert subject.statuses() == [] and subject.texts() == []


async def test_an_unreachable_platform_is_retryable(subject: ChatSubject) -> None:
    gone = await subject.closed()
    with pytest.raises(RetryableDelivery):
        await gone.post_card(subject.dest, card("triggered"), lang="en")


async def test_buttons_are_shown_or_become_their_links(subject: ChatSubject) -> None:
    await subject.platform.post_card(subject.dest, card("triggered", linked=True), lang="en")
    shown = json.dumps(subject.cards(), ensure_ascii=False)
    assert "Acknowledge" in shown
    if not subject.platform.capabilities.buttons:
        assert LINK in shown, "a platform without buttons shows the signed link"
