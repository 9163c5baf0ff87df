"""Review follow-ups tracked: the draft's checklist becomes items once (whoever writes it again),
the review card's Done / Undo buttons and `/review done|undo` mark them for those with the
``ack`` grant (audited), the card is updated in place, `/review list` shows what is open, and
the noise report's `stale_reviews` sees a review left open for over a week until it is done."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.links import LinkSigner
from bot.model import ActionKind, CardActionRequest, Destination, Reply, Sender
from bot.reviews import keep, review_ref
from bot.reviews.stale import stale_reviews
from bot.store.db import Database
from bot.store.tables import audit_log, followups
from tests.support import RecordingPlatform
from tests.unit.test_dispatch import OPS, say
from tests.unit.test_gates_flow import bad_release, gate_of

FOLLOW = (
    "Find the root cause of the failure in v2",
    "Add a test or a check that would have caught it before production",
    "Check that the health gate's thresholds caught it early enough",
    "Decide when and how to ship the fix",
)
_presses = itertools.count(1)


async def reviewed(
    db: Database, clock: FakeClock, chat: RecordingPlatform, **options: Any
) -> tuple[Tocsin, int]:
    """v2 of orders fails its gate and is rolled back; the app and the rollback's run."""
    app, mem, _metrics, bad = await bad_release(db, clock, chat, 0.25, owner="alice", **options)
    rollback = (await gate_of(app, bad)).rollback_run_id
    await app.engine.tick()
    mem.finish(f"run-{rollback}")
    clock.advance(6)
    await app.engine.tick()
    return app, rollback


async def items(app: Tocsin) -> list[Any]:
    async with app.services.db.connect() as conn:
        stmt = select(followups).order_by(followups.c.id)
        return list((await conn.execute(stmt)).all())


def press(app: Tocsin, who: str, action: ActionKind, run: int, value: object) -> Any:
    return app.dispatcher.action(
        CardActionRequest(
            action,
            review_ref(run),
            str(value),
            Sender("fake", who),
            OPS,
            f"review-press-{next(_presses)}",
            app.services.clock.now(),
        )
    )


def shown(chat: RecordingPlatform, run: int, op: str = "update") -> Any:
    """The review card as the chat last got it by `op`."""
    cards = [s.card for s in chat.ops(op, "fake:ops") if s.card and s.card.ref == review_ref(run)]
    return cards[-1]


def follow_lines(card: Any) -> tuple[str, ...]:
    return next(s.lines for s in card.sections if s.title == "Follow-up")


async def test_a_reviews_checklist_becomes_items_once_and_its_card_has_a_button_each(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, rollback = await reviewed(db, clock, chat)
    rows = await items(app)
    assert [(r.run_id, r.position, r.text, r.done) for r in rows] == [
        (rollback, n, text, False) for n, text in enumerate(FOLLOW)
    ]
    # written again (a retried pass, another replica): nothing is added
    async with app.services.db.begin() as conn:
        await keep(conn, app.services.db, app.services.settings, rollback, clock.now())
    assert len(await items(app)) == len(FOLLOW)

    card = shown(chat, rollback, "post")
    assert follow_lines(card) == tuple(f"[ ] {text}" for text in FOLLOW)
    assert [(b.label, b.action, b.value) for b in card.buttons] == [
        (f"Done {n}", ActionKind.DONE, str(r.id)) for n, r in enumerate(rows, 1)
    ]


async def test_done_and_undo_from_the_card_update_it_in_place_and_are_audited(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, rollback = await reviewed(db, clock, chat)
    first = (await items(app))[0]
    clock.advance(timedelta(days=1))
    await app.engine.tick()

    reply: Reply = await press(app, "U-BOB", ActionKind.DONE, rollback, first.id)
    assert reply.ok and reply.private, reply.text
    row = (await items(app))[0]
    assert (row.done, row.done_by, row.done_at) == (True, "bob", clock.now())
    await app.engine.tick()
    card = shown(chat, rollback)  # updated in place, not posted again
    posts = [s.card.ref for s in chat.ops("post", "fake:ops") if s.card]
    assert posts.count(review_ref(rollback)) == 1
    day = clock.now().strftime("%Y-%m-%d")
    assert follow_lines(card)[0] == f"[x] {FOLLOW[0]} — done by Bob, {day}"
    assert follow_lines(card)[1] == f"[ ] {FOLLOW[1]}"
    assert (card.buttons[0].label, card.buttons[0].action) == ("Undo 1", ActionKind.UNDONE)

    again: Reply = await press(app, "U-ALICE", ActionKind.DONE, rollback, first.id)
    assert "already done (by Bob)" in again.text
    assert (await items(app))[0].done_by == "bob"

    undone: Reply = await press(app, "U-ALICE", ActionKind.UNDONE, rollback, first.id)
    assert undone.ok
    row = (await items(app))[0]
    assert (row.done, row.done_by, row.done_at) == (False, None, None)
    await app.engine.tick()
    assert follow_lines(shown(chat, rollback))[0] == f"[ ] {FOLLOW[0]}"

    async with app.services.db.connect() as conn:
        audit = (
            await conn.execute(
                select(audit_log.c.actor, audit_log.c.action, audit_log.c.target)
                .where(audit_log.c.target.like("review:%"))
                .order_by(audit_log.c.id)
            )
        ).all()
    target = f"review:{rollback}"
    assert [tuple(a) for a in audit] == [
        ("bob", "button:done", f"{target} done {first.id}"),
        ("alice", "button:done", f"{target} done {first.id}"),
        ("alice", "button:undone", f"{target} undone {first.id}"),
    ]


async def test_only_those_with_the_ack_grant_on_the_service_may_mark_items(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, rollback = await reviewed(db, clock, chat)
    first = (await items(app))[0]
    for who in ("U-CAROL", "U-DAVE"):  # a viewer; a lead who may deploy but not acknowledge
        refused: Reply = await press(app, who, ActionKind.DONE, rollback, first.id)
        assert not refused.ok
        assert refused.text.startswith("You may not acknowledge orders in staging"), refused.text
        said: Reply = await say(app, who, f"/review done {first.id}")
        assert not said.ok
    assert not (await items(app))[0].done
    async with app.services.db.connect() as conn:
        outcomes = (
            await conn.execute(
                select(audit_log.c.actor, audit_log.c.outcome)
                .where(audit_log.c.target == f"review:{rollback} done {first.id}")
                .order_by(audit_log.c.id)
            )
        ).all()
    assert [tuple(o) for o in outcomes] == [("carol", "denied"), ("dave", "denied")]

    # an item of another card, or no item at all, is refused as a bad card
    other: Reply = await press(app, "U-BOB", ActionKind.DONE, rollback + 1000, first.id)
    assert not other.ok
    garbage: Reply = await press(app, "U-BOB", ActionKind.DONE, rollback, "x1")
    assert not garbage.ok
    assert not (await items(app))[0].done


async def test_review_commands_list_mark_and_show(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, rollback = await reviewed(db, clock, chat)
    rows = await items(app)
    clock.advance(timedelta(days=3, hours=2))

    listed: Reply = await say(app, "U-CAROL", "/review list")  # a viewer may read the list
    assert listed.ok, listed.text
    lines = listed.text.splitlines()
    assert lines[0] == "Open follow-ups, oldest first:"
    assert lines[1] == (
        f"Review of run #{rollback} · orders · staging · written 3 days ago · "
        f"/review show run:{rollback}"
    )
    assert lines[2:] == [f"  ☐ #{r.id} {r.text} (open 3 d 2 h)" for r in rows]

    done: Reply = await say(app, "U-BOB", f"/review done #{rows[1].id}")
    assert done.ok and not done.private
    assert done.text == (  # Bob reads Chinese: the item too
        f"Bob 已将后续事项 #{rows[1].id} 标记为完成：补充能在上线前发现该问题的测试或检查"
    )
    assert [r.done for r in await items(app)] == [False, True, False, False]
    await app.engine.tick()
    assert follow_lines(shown(chat, rollback))[1].startswith(f"[x] {FOLLOW[1]} — done by Bob")

    after: Reply = await say(app, "U-CAROL", "/review list orders")
    assert f"#{rows[1].id} " not in after.text and f"#{rows[0].id} " in after.text
    nothing: Reply = await say(app, "U-CAROL", "/review list payments")
    assert nothing.text == "No follow-up is open. 🎉"
    unknown: Reply = await say(app, "U-CAROL", "/review list nosuch")
    assert not unknown.ok

    undo: Reply = await say(app, "U-BOB", f"/review undo {rows[1].id}")
    assert undo.ok and [r.done for r in await items(app)] == [False] * 4
    missing: Reply = await say(app, "U-ALICE", "/review done 99999")
    assert not missing.ok and "There is no follow-up #99999" in missing.text

    card: Reply = await say(app, "U-CAROL", f"/review show run:{rollback}")
    assert card.ok and card.card is not None and card.card.ref == review_ref(rollback)
    assert [b.action for b in card.card.buttons] == [ActionKind.DONE] * 4
    none: Reply = await say(app, "U-CAROL", "/review show 424242")
    assert not none.ok


async def test_the_card_reads_in_chinese_too(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, rollback = await reviewed(db, clock, chat)
    first = (await items(app))[0]
    await say(app, "U-BOB", f"/review done {first.id}")
    card: Reply = await say(app, "U-BOB", f"/review show run:{rollback}")  # Bob reads Chinese
    assert card.card is not None
    follow = next(s.lines for s in card.card.sections if s.title == "后续事项")
    assert follow[0].startswith("[x] 查明 v2 故障的根本原因 — Bob 已完成")
    assert [b.label for b in card.card.buttons] == ["撤销 1", "完成 2", "完成 3", "完成 4"]


async def test_stale_reviews_sees_items_open_over_a_week_until_they_are_done(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, rollback = await reviewed(db, clock, chat)
    rows = await items(app)
    written = rows[0].created_at

    async def stale() -> list[tuple[int | None, int]]:
        async with app.services.db.connect() as conn:
            found = await stale_reviews(conn, clock.now() - timedelta(days=7))
        return [(s.run_id, s.open_items) for s in found]

    clock.advance(timedelta(days=6))
    assert await stale() == []  # not a week yet
    clock.advance(timedelta(days=2))
    assert await stale() == [(rollback, 4)]
    async with app.services.db.connect() as conn:
        [one] = await stale_reviews(conn, clock.now() - timedelta(days=7))
    assert one.oldest == written
    for row in rows[:3]:
        assert (await press(app, "U-BOB", ActionKind.DONE, rollback, row.id)).ok
    assert await stale() == [(rollback, 1)]
    assert (await say(app, "U-ALICE", f"/review done {rows[3].id}")).ok
    assert await stale() == []


async def test_a_chat_without_buttons_marks_an_item_through_its_action_link(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, rollback = await reviewed(db, clock, chat)
    first = (await items(app))[0]
    settings = app.services.settings.tocsin
    links = LinkSigner(settings.secret_key, settings.public_url)
    to_bob = str(Destination("fake", "@bob"))  # a direct message's link names its reader
    token = links.token(
        ActionKind.DONE, review_ref(rollback), str(first.id), to_bob, "bob", clock.now()
    )
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as http:
        asked = await http.get(f"/a/{token}")
        assert asked.status_code == 200 and "mark a follow-up done" in asked.text
        done = await http.post(f"/a/{token}")
        assert done.status_code == 200, done.text
    row = (await items(app))[0]
    assert (row.done, row.done_by) == (True, "bob")
