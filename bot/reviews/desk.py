"""Follow-up items as people meet them: the Done / Undo buttons of a review card and
`/review done|undo` both land here, and the card is then updated where it was posted.

Who may mark an item: whoever holds the ``ack`` grant on the review's service and environment.
Closing a lesson is a responder's commitment, so it takes the responder's grant rather than
``view`` (which read-only observers hold); the audit log names who marked which item, since
every press and command is audited by the dispatcher."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.authz import Directory
from bot.errors import PermissionDenied, UserError
from bot.i18n import t
from bot.model import Card, Reply
from bot.outbox.enqueue import Outbox
from bot.reviews import followups
from bot.reviews.card import review_ref
from bot.reviews.checklist import follow_items
from bot.reviews.facts import Facts
from bot.reviews.store import render
from bot.services import Context
from bot.store.tables import card_posts, rca_drafts

GRANT = "ack"
"""The grant, on the review's service and environment, that marks its items."""


class Uses(Protocol):
    """The services marking an item uses."""

    @property
    def outbox(self) -> Outbox: ...
    @property
    def directory(self) -> Directory: ...


async def item_or_refuse(conn: AsyncConnection, item_id: int) -> followups.Item:
    item = await followups.load(conn, item_id)
    if item is None:
        raise UserError("review.item.unknown", id=item_id)
    return item


def names(directory: Directory) -> Mapping[str, str]:
    """Everyone's name as cards show it, by user id."""
    return {person.id: person.display for person in directory.people()}


async def mark(ctx: Context[Uses], item: followups.Item, *, done: bool, private: bool) -> Reply:
    """Mark `item` done (or open again) for the person of `ctx`, who needs `GRANT` on its
    scope (`PermissionDenied` otherwise, before anything changes); then update its review's
    card wherever it was posted."""
    service, environment = await followups.scope(ctx.conn, item)
    person = ctx.person
    if not person.may(GRANT, service, environment):
        raise PermissionDenied(
            "auth.denied",
            action=t(f"action.{GRANT}", ctx.lang),
            scope=t("auth.scope", ctx.lang, service=service or "-", environment=environment or "-"),
            roles=", ".join(person.roles) or t("auth.no_roles", ctx.lang),
        )
    text = await _text(ctx.conn, item, ctx.lang)
    changed = await followups.mark(ctx.conn, item.id, done=done, by=person.id, now=ctx.now)
    if not changed:
        if done:
            who = ctx.services.directory.get(item.done_by or "")
            shown = who.display if who else item.done_by or "?"
            return Reply(t("review.already.done", ctx.lang, id=item.id, who=shown), private=True)
        return Reply(t("review.already.open", ctx.lang, id=item.id), private=True)
    key = "review.marked.done" if done else "review.marked.undone"
    said = t(key, ctx.lang, user=person.display, id=item.id, text=text)
    if item.run_id is None:
        return Reply(said, private=private)
    ref = review_ref(item.run_id)
    posted = await _posted(ctx.conn, ref)
    await ctx.services.outbox.card(ctx.conn, ref, posted, priority=2, now=ctx.now)
    card: Card | None = None
    if str(ctx.chat) not in posted:  # a copy shown only here: show it again as it now stands
        card = await render(ctx.conn, ref, ctx.lang, ctx.tz, names(ctx.services.directory))
    return Reply(said, private=private, card=card)


async def _posted(conn: AsyncConnection, ref: str) -> list[str]:
    """The chats the card `ref` was posted to (read by its unique key)."""
    stmt = select(card_posts.c.destination).where(card_posts.c.card_ref == ref)
    return list((await conn.execute(stmt)).scalars())


async def _text(conn: AsyncConnection, item: followups.Item, lang: str) -> str:
    """The item in `lang` (from its review's facts), else as it was written."""
    if item.run_id is None:
        return item.text
    stmt = select(rca_drafts.c.facts).where(rca_drafts.c.run_id == item.run_id)
    facts = (await conn.execute(stmt)).scalar()
    said = follow_items(Facts.from_json(facts), lang) if facts else ()
    return said[item.position] if item.position < len(said) else item.text
