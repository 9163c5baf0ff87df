"""Commands and card actions through the dispatcher: identity, authorization, audit, effects."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select

from adapters.deploy.fake import FakeRollbackHandoff
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.model import ActionKind, CardActionRequest, CommandRequest, Destination, Reply, Sender
from bot.store.tables import audit_log, incidents
from tests.support import RecordingPlatform, firing

OPS = Destination("fake", "ops")
_ids = count(1)


def press(
    app: Tocsin,
    who: str,
    action: ActionKind,
    ref: str,
    value: str = "",
    event_id: str | None = None,
) -> Any:
    return app.dispatcher.action(
        CardActionRequest(
            action,
            ref,
            value,
            Sender("fake", who),
            OPS,
            event_id or f"ev-{next(_ids)}",
            app.services.clock.now(),
        )
    )


def say(app: Tocsin, who: str, text: str, event_id: str | None = None) -> Any:
    return app.dispatcher.command(
        CommandRequest(
            text, Sender("fake", who), OPS, event_id or f"ev-{next(_ids)}", app.services.clock.now()
        )
    )


async def open_incident(app: Tocsin, **labels: Any) -> int:
    result = await app.ingest.ingest([firing(**labels)])
    await app.engine.tick()
    return result.incident_ids[0]


async def incident(app: Tocsin, number: int) -> Any:
    async with app.services.db.connect() as conn:
        return (await conn.execute(select(incidents).where(incidents.c.id == number))).one()


async def audit_rows(app: Tocsin) -> list[Any]:
    async with app.services.db.connect() as conn:
        return list((await conn.execute(select(audit_log).order_by(audit_log.c.id))).all())


async def test_acknowledge_press_acks_updates_the_card_in_place_and_audits(
    tocsin: Tocsin, chat: RecordingPlatform
) -> None:
    number = await open_incident(tocsin)
    reply = await press(tocsin, "U-ALICE", ActionKind.ACK, f"incident:{number}")
    assert reply.ok and not reply.private and "Alice acknowledged" in reply.text
    row = await incident(tocsin, number)
    assert (row.status, row.acked_by) == ("acknowledged", "Alice")
    await tocsin.engine.tick()
    [update] = chat.ops("update")
    assert update.ref == chat.ops("post")[0].ref
    assert update.card is not None and update.card.status == "acknowledged"
    assert update.card.buttons[0].action == ActionKind.UNACK
    [audit] = await audit_rows(tocsin)
    assert (audit.actor, audit.action, audit.outcome) == ("alice", "button:ack", "allowed")


async def test_press_without_the_grant_is_denied_and_changes_nothing(
    tocsin: Tocsin, chat: RecordingPlatform
) -> None:
    number = await open_incident(tocsin)
    sent_before = len(chat.sent)
    reply = await press(tocsin, "U-CAROL", ActionKind.ACK, f"incident:{number}")
    assert not reply.ok and reply.private
    assert "may not acknowledge orders in prod" in reply.text and "viewer" in reply.text
    assert (await incident(tocsin, number)).status == "triggered"
    await tocsin.engine.tick()
    assert len(chat.sent) == sent_before
    [audit] = await audit_rows(tocsin)
    assert (audit.actor, audit.outcome) == ("carol", "denied")


async def test_scoped_grants_follow_service_and_environment(tocsin: Tocsin) -> None:
    prod = await open_incident(tocsin, service="storefront", env="prod")
    staging = await open_incident(tocsin, name="Other", service="orders", env="staging")
    # bob may silence storefront anywhere and resolve anything in staging, nothing more
    assert (await press(tocsin, "U-BOB", ActionKind.SILENCE, f"incident:{prod}", "2h")).ok
    denied = await press(tocsin, "U-BOB", ActionKind.RESOLVE, f"incident:{prod}")
    assert not denied.ok and "无权" in denied.text  # bob reads Chinese
    assert (await press(tocsin, "U-BOB", ActionKind.RESOLVE, f"incident:{staging}")).ok
    assert (await incident(tocsin, prod)).status == "triggered"
    assert (await incident(tocsin, staging)).status == "resolved"


async def test_unknown_person_is_refused_and_audited(tocsin: Tocsin) -> None:
    number = await open_incident(tocsin)
    reply = await press(tocsin, "U-STRANGER", ActionKind.ACK, f"incident:{number}")
    assert not reply.ok and "don't know who you are" in reply.text
    assert (await incident(tocsin, number)).status == "triggered"
    [audit] = await audit_rows(tocsin)
    assert (audit.actor, audit.outcome) == ("fake:U-STRANGER", "denied")


async def test_redelivered_event_has_one_effect(tocsin: Tocsin, clock: FakeClock) -> None:
    number = await open_incident(tocsin)
    first = await press(
        tocsin, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "30m", event_id="slack-123"
    )
    until = (await incident(tocsin, number)).silenced_until
    clock.advance(60)
    again = await press(
        tocsin, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "30m", event_id="slack-123"
    )
    assert first.ok and again.extra == {"duplicate": True}
    assert (await incident(tocsin, number)).silenced_until == until
    assert len(await audit_rows(tocsin)) == 1


async def test_bad_card_reference_is_an_error(tocsin: Tocsin) -> None:
    reply = await press(tocsin, "U-ALICE", ActionKind.ACK, "bogus:1")
    assert not reply.ok and "not one of Tocsin's" in reply.text
    missing = await press(tocsin, "U-ALICE", ActionKind.ACK, "incident:999")
    assert not missing.ok and "#999 does not exist" in missing.text
    assert [r.outcome for r in await audit_rows(tocsin)] == ["invalid", "failed"]


async def test_commands_ack_silence_resolve(tocsin: Tocsin, clock: FakeClock) -> None:
    number = await open_incident(tocsin)
    assert "acknowledged" in (await say(tocsin, "U-ALICE", f"/ack {number}")).text
    again = await say(tocsin, "U-ALICE", f"@tocsin ack #{number}")
    assert again.private and "already acknowledged by Alice" in again.text
    silenced = await say(tocsin, "U-ALICE", f"/silence {number} 2h")
    assert "for 2h" in silenced.text
    row = await incident(tocsin, number)
    assert row.silenced_until == clock.now() + timedelta(hours=2)
    assert "resolved" in (await say(tocsin, "U-ALICE", f"resolve {number}")).text
    assert (await incident(tocsin, number)).status == "resolved"


async def test_grammar_errors_suggest_and_change_nothing(tocsin: Tocsin) -> None:
    number = await open_incident(tocsin)
    typo = await say(tocsin, "U-ALICE", f"/akc {number}")
    assert not typo.ok and "/ack" in typo.text
    bad = await say(tocsin, "U-ALICE", f"/silence {number} forever")
    assert not bad.ok and "Usage" in bad.text
    assert (await incident(tocsin, number)).status == "triggered"
    assert [r.outcome for r in await audit_rows(tocsin)] == ["invalid", "invalid"]


async def test_help_lists_only_what_the_person_may_run(tocsin: Tocsin) -> None:
    viewer = (await say(tocsin, "U-CAROL", "/help")).text
    sre = (await say(tocsin, "U-ALICE", "/help")).text
    assert "/incident" in viewer and "/ack" not in viewer and "/resolve" not in viewer
    assert "/ack" in sre and "/resolve" in sre and "/silence" in sre


async def test_incident_list_and_show(tocsin: Tocsin) -> None:
    assert "No open incidents" in (await say(tocsin, "U-CAROL", "/incident list")).text
    number = await open_incident(tocsin)
    listing = (await say(tocsin, "U-CAROL", "/incidents")).text
    assert f"#{number} [P0] HighErrorRate" in listing
    shown: Reply = await say(tocsin, "U-CAROL", f"/incident show {number}")
    assert shown.card is None and f"#{number}" in shown.text  # the live card is posted


async def test_language_per_person(tocsin: Tocsin) -> None:
    assert "您是" in (await say(tocsin, "U-BOB", "/whoami")).text
    assert "You are Alice" in (await say(tocsin, "U-ALICE", "/whoami")).text
    await say(tocsin, "U-ALICE", "/lang zh")
    assert "您是 Alice" in (await say(tocsin, "U-ALICE", "/whoami")).text


async def test_rollback_press_says_honestly_that_nothing_ran(db: Any, clock: FakeClock) -> None:
    from bot.bootstrap import bootstrap
    from tests.support import make_settings

    deploys, chat = FakeRollbackHandoff(), RecordingPlatform()
    app = bootstrap(
        make_settings(), clock=clock, platforms={"fake": chat}, database=db, rollbacks=deploys
    )
    number = await open_incident(app)
    reply = await press(app, "U-ALICE", ActionKind.ROLLBACK, f"incident:{number}")
    assert "nothing was rolled back" in reply.text
    assert [(r.service, r.environment, r.requested_by) for r in deploys.requests] == [
        ("orders", "prod", "alice")
    ]
    await app.engine.tick()
    [text] = chat.ops("text")
    assert "nothing was rolled back" in text.text and text.ref == chat.ops("post")[0].ref
    denied = await press(app, "U-BOB", ActionKind.ROLLBACK, f"incident:{number}")
    assert not denied.ok and len(deploys.requests) == 1


async def test_an_accepted_rollback_is_told_to_the_chats_once(db: Any, clock: FakeClock) -> None:
    from bot.bootstrap import bootstrap
    from tests.support import make_settings

    deploys, chat = FakeRollbackHandoff(accept=True), RecordingPlatform()
    app = bootstrap(
        make_settings(), clock=clock, platforms={"fake": chat}, database=db, rollbacks=deploys
    )
    number = await open_incident(app)
    reply = await press(app, "U-ALICE", ActionKind.ROLLBACK, f"incident:{number}")
    assert reply.ok and "rollback recorded" in reply.text
    assert reply.private  # the chat hears it from the outbox, not a second time from the press
    await app.engine.tick()
    assert len([s for s in chat.ops("text") if "rollback recorded" in s.text]) == 1


async def test_acknowledgement_expires_and_retriggers(
    tocsin: Tocsin, clock: FakeClock, chat: RecordingPlatform
) -> None:
    number = await open_incident(tocsin)
    await press(tocsin, "U-ALICE", ActionKind.ACK, f"incident:{number}")
    clock.advance(timedelta(minutes=61))
    await tocsin.engine.tick()
    row = await incident(tocsin, number)
    assert row.status == "triggered" and row.acked_by is None
    assert any("expired" in s.text for s in chat.ops("text"))


async def test_silence_ends_on_time(
    tocsin: Tocsin, clock: FakeClock, chat: RecordingPlatform
) -> None:
    number = await open_incident(tocsin)
    await press(tocsin, "U-ALICE", ActionKind.SILENCE, f"incident:{number}", "30m")
    await tocsin.engine.tick()
    assert chat.ops("update")[-1].card.status == "silenced"  # type: ignore[union-attr]
    clock.advance(timedelta(minutes=31))
    await tocsin.engine.tick()
    assert (await incident(tocsin, number)).silenced_until is None
    assert chat.ops("update")[-1].card.status == "triggered"  # type: ignore[union-attr]
    assert any("silence on incident" in s.text for s in chat.ops("text"))


@pytest.mark.parametrize("kind", [ActionKind.ACK, ActionKind.RESOLVE])
async def test_actions_on_resolved_incident_change_nothing(
    tocsin: Tocsin, kind: ActionKind
) -> None:
    number = await open_incident(tocsin)
    await press(tocsin, "U-ALICE", ActionKind.RESOLVE, f"incident:{number}")
    reply = await press(tocsin, "U-ALICE", kind, f"incident:{number}")
    assert reply.private and "already resolved" in reply.text


async def test_chat_language_needs_admin_and_applies_to_people_without_their_own(
    tocsin: Tocsin, chat: RecordingPlatform
) -> None:
    denied = await say(tocsin, "U-CAROL", "/lang zh --chat")
    assert not denied.ok and "administer" in denied.text
    done = await say(tocsin, "U-ALICE", "/lang zh --chat")
    assert done.ok and "本群" in done.text
    assert "您是 Carol" in (await say(tocsin, "U-CAROL", "/whoami")).text  # no own setting
    await open_incident(tocsin)
    [post] = chat.ops("post")
    assert post.card is not None and post.card.fields[2].value == "告警中"  # cards follow the chat
