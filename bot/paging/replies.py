"""`Replies`: a person answering a page from their phone — an SMS reply (``1``, ``2KQD``) or a
key pressed in a call — acted on exactly as the button it stands for.

The number names the person (the users whose `contact.phone` it is); the answer names the
page: for a call, the call itself (its send's provider id); for an SMS, the page whose reply
code it gives, else the person's latest SMS page, among those sent within `paging.link_ttl`.
The action then goes through the dispatcher like a press of the incident card's button as
that person (authorization, de-duplication on the provider's message id, audit), so a
provider's retry acts once.

What cannot be acted on is refused and audited as ``phone:reply``: an unknown number gets no
answer at all (nothing to learn about who is on call), text that is not an answer gets the
instructions, a code that names none of the person's current pages is refused as stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.audit import AuditEntry, append
from bot.clock import Clock
from bot.i18n import t
from bot.inbound import InboundHandler
from bot.incidents.status import card_ref
from bot.metrics import Metrics
from bot.model import ActionKind, CardActionRequest, Destination, Sender
from bot.paging.chains import digits
from bot.paging.codes import Asked, code, parse
from bot.ports import Answer, PhoneReply
from bot.prefs import Reader, reader
from bot.settings import Settings
from bot.settings.schema import User
from bot.store.db import Database
from bot.store.outage import classify
from bot.store.tables import page_sends, pages

ACTIONS = {"ack": ActionKind.ACK, "escalate": ActionKind.ESCALATE}
VIA = {"sms": "sms_reply", "voice": "voice_key"}
AUDITED = "phone:reply"
"""The audit action of a reply that was refused before reaching the dispatcher."""


@dataclass(frozen=True, slots=True)
class _Page:
    id: int
    incident_id: int
    recipient: str


class Replies:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        inbound: InboundHandler,
        metrics: Metrics,
    ) -> None:
        self.settings, self.db, self.clock = settings, db, clock
        self.inbound, self.metrics = inbound, metrics
        self.owners: dict[str, list[User]] = {}
        """People by their number's digits (a shared on-call phone may have several)."""
        for user in settings.users:
            if user.contact.phone:
                self.owners.setdefault(digits(user.contact.phone), []).append(user)

    async def reply(self, reply: PhoneReply) -> Answer:
        """Act on `reply` as the person whose number it came from; what to say back. Raises
        `DatabaseUnavailable` when the database cannot be reached (the callback answers 503
        and the provider's retry is acted on, once, when it is back)."""
        try:
            return await self._reply(reply)
        except Exception as exc:
            down = classify(exc)
            if down is None or down is exc:
                raise
            raise down from exc

    async def _reply(self, reply: PhoneReply) -> Answer:
        owners = self.owners.get(digits(reply.number), [])
        if not owners:
            await self._refuse(reply, f"{reply.channel}:{reply.number}", "unknown number")
            return Answer("", ok=False)
        asked = parse(reply.text)
        async with self.db.connect() as conn:
            page = await self._page(conn, reply, asked, [u.id for u in owners]) if asked else None
            user = next((u for u in owners if page and u.id == page.recipient), owners[0])
            lang = (await self._reader(conn, reply, user)).lang
        if asked is None:
            await self._refuse(reply, user.id, "not an answer", "invalid", text=reply.text)
            return Answer(t("phone.help", lang), ok=False, lang=lang)
        if page is None:
            reason = "stale code" if asked.code else "no current page"
            await self._refuse(reply, user.id, reason, code=asked.code or "")
            if asked.code:
                return Answer(t("phone.stale", lang, code=asked.code), ok=False, lang=lang)
            return Answer(t("phone.no_page", lang), ok=False, lang=lang)
        done = await self.inbound.action(
            CardActionRequest(
                action=ACTIONS[asked.action],
                card_ref=card_ref(page.incident_id),
                value="",
                sender=Sender("tocsin", user.id),
                chat=Destination.parse(f"{reply.channel}:@{user.id}"),
                event_id=f"{reply.provider}:{reply.message_id}",
                received_at=reply.received_at,
                via=VIA[reply.channel],
            )
        )
        if done.extra.get("duplicate"):
            return Answer(t("phone.again", lang), ok=True, lang=lang)
        return Answer(done.text, done.ok, lang)

    async def _page(
        self, conn: AsyncConnection, reply: PhoneReply, asked: Asked, people: list[str]
    ) -> _Page | None:
        """The page answered: the call's own page, else the SMS page the code names, else the
        latest SMS page; only those to `people`, and SMS pages sent within the link lifetime."""
        if reply.channel == "voice":
            return await self._call(conn, reply, people)
        since = self.clock.now() - self.settings.paging.link_ttl
        stmt = (
            select(pages.c.id, pages.c.incident_id, pages.c.recipient)
            .where(
                and_(
                    pages.c.recipient.in_(people),
                    pages.c.channel == "sms",
                    pages.c.sent_at.is_not(None),
                    pages.c.sent_at >= since,
                )
            )
            .order_by(pages.c.sent_at.desc(), pages.c.id.desc())
        )
        for row in await conn.execute(stmt):
            if asked.code is None or code(row.id) == asked.code:
                return _Page(row.id, row.incident_id, row.recipient)
        return None

    async def _call(
        self, conn: AsyncConnection, reply: PhoneReply, people: list[str]
    ) -> _Page | None:
        """The page of the call being answered: by its send (any provider in the failover
        order), else by the page's own record of its last send."""
        columns = (pages.c.id, pages.c.incident_id, pages.c.recipient)
        mine = and_(pages.c.recipient.in_(people), pages.c.channel == "voice")
        by_send = (
            select(*columns)
            .select_from(page_sends.join(pages, pages.c.id == page_sends.c.page_id))
            .where(
                and_(
                    mine,
                    page_sends.c.provider == reply.provider,
                    page_sends.c.provider_ref == reply.message_id,
                )
            )
        )
        by_page = select(*columns).where(and_(mine, pages.c.provider_ref == reply.message_id))
        for stmt in (by_send, by_page):
            row = (await conn.execute(stmt.order_by(pages.c.id.desc()).limit(1))).first()
            if row is not None:
                return _Page(row.id, row.incident_id, row.recipient)
        return None

    async def _reader(self, conn: AsyncConnection, reply: PhoneReply, user: User) -> Reader:
        """The person's language, chosen as the dispatcher chooses it for their answer."""
        general = self.settings.tocsin
        return await reader(
            conn,
            user=user.id,
            chat=f"{reply.channel}:@{user.id}",
            default=Reader(general.language, general.timezone),
            configured=user.language,
        )

    async def _refuse(
        self,
        reply: PhoneReply,
        actor: str,
        reason: str,
        outcome: str = "denied",
        **detail: Any,
    ) -> None:
        entry = AuditEntry(
            actor,
            reply.channel,
            AUDITED,
            "",
            outcome,
            {
                "reason": reason,
                "provider": reply.provider,
                "message_id": reply.message_id,
                **{k: str(v)[:64] for k, v in detail.items()},
            },
        )
        async with self.db.begin() as conn:
            await append(self.db, conn, entry, self.clock.now())
