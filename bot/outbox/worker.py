"""Delivering the outbox: claim due rows, coalesce per card, respect each destination's budget.

A pass claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, with a lease so a crashed
replica's claims come back), renders each card once from the current state, posts it or updates
it in place, and records where it lives. Failures back off exponentially, honour Retry-After,
and end as `failed` after `max_attempts`, never silently.

Before sending, a pass takes the sends it needs for each destination from that destination's
shared budget (`bot.outbox.budget`, in the database), all at once; what the budget cannot carry
now waits for the time the budget names. A Retry-After answer blocks the destination for every
replica.

Each destination is written for its reader (`bot.prefs.reader_of`): a direct chat
(``slack:@bob``) in its person's language and time zone, any other chat in the chat's. A pass
reads each destination's reader once and forgets it at the next pass, so a change of `/lang`
or `/tz` made through any replica shows from the next pass on.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery
from bot.i18n import t
from bot.links import LinkSigner
from bot.metrics import Metrics
from bot.model import Card, Destination
from bot.oncall.groups_state import MENTIONING, group_mentions
from bot.outbox.budget import Budgets
from bot.outbox.items import Posted, Queued
from bot.outbox.statements import statements
from bot.ports import ChatPlatform, PostedRef
from bot.prefs import Reader, reader_of
from bot.store.db import Database
from bot.store.outage import classify
from bot.store.tables import outbox

log = structlog.get_logger(__name__)


class Renderer(Protocol):
    """Renders card `ref` as of `now` for a reader of `lang` in zone `tz` (None: it is gone)."""

    async def __call__(
        self, conn: AsyncConnection, ref: str, now: datetime, lang: str, *, tz: str = ...
    ) -> Card | None: ...


LEASE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    max_attempts: int
    base_backoff: timedelta
    max_backoff: timedelta
    default_language: str
    batch: int = 200
    default_timezone: str = "UTC"
    languages: Mapping[str, str] = field(default_factory=dict)
    """The language each user configured (user id -> ``zh``/``en``), for their direct chats."""


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        platforms: Mapping[str, ChatPlatform],
        budgets: Budgets,
        render: Renderer,
        links: LinkSigner,
        settings: WorkerSettings,
        metrics: Metrics,
    ) -> None:
        self.db, self.clock, self.platforms, self.budgets = db, clock, platforms, budgets
        self.render, self.links, self.settings, self.metrics = render, links, settings, metrics
        self.sql = statements(db.is_sqlite)
        self._readers: dict[str, Reader] = {}

    async def run_once(self) -> int:
        """One pass; returns the number of deliveries made."""
        now = self.clock.now()
        self._readers.clear()
        rows = await self._claim(now)
        if not rows:
            return 0
        by_destination: dict[str, list[list[Queued]]] = defaultdict(list)
        groups: dict[tuple[str, str], list[Queued]] = {}
        for row in rows:
            if row.kind == "card":
                key = (row.destination, row.card_ref)
                if key not in groups:
                    groups[key] = []
                    by_destination[row.destination].append(groups[key])
                groups[key].append(row)
            else:
                by_destination[row.destination].append([row])
        counts = await asyncio.gather(
            *(self._deliver_destination(dest, items) for dest, items in by_destination.items())
        )
        return sum(counts)

    async def _claim(self, now: datetime) -> list[Queued]:
        async with self.db.begin() as conn:
            found = await conn.execute(
                self.sql.claim, {"b_now": now, "b_batch": self.settings.batch}
            )
            rows = [Queued.of(row) for row in found.all()]
            if rows:
                await conn.execute(
                    self.sql.lease, {"b_ids": [r.id for r in rows], "b_until": now + LEASE}
                )
        return rows

    async def _deliver_destination(self, destination: str, items: list[list[Queued]]) -> int:
        """Deliver what the shared budget allows now; the rest waits for it (or for the end
        of a Retry-After this pass was answered with)."""
        delivered = 0
        grant = await self.budgets.take(destination, self.clock.now(), len(items))
        for index, group in enumerate(items):
            if index >= grant.count:
                wait = grant.retry_at or self.clock.now()
                await self._release([row for g in items[index:] for row in g], wait)
                break
            # a delivery and its record finish even if this pass is cancelled (a stopping
            # replica never leaves a message sent but unrecorded, which would send it twice)
            sent, blocked = await asyncio.shield(self._deliver_recorded(destination, group))
            delivered += sent
            if blocked is not None:  # the sends granted but not yet used wait with the rest
                await self._release([row for g in items[index + 1 :] for row in g], blocked)
                break
        return delivered

    async def _deliver_recorded(
        self, destination: str, group: list[Queued]
    ) -> tuple[int, datetime | None]:
        """1 if delivered; and the end of a Retry-After block if the platform asked for one."""
        try:
            await self._deliver(destination, group)
            return 1, None
        except DeliveryError as exc:
            return 0, await self._failed(group, exc, block=True)
        except Exception as exc:  # a bug in an adapter must not stop the queue
            if classify(exc) is not None:  # the database is down: the whole pass is skipped
                raise
            log.exception("outbox delivery crashed", destination=destination)
            await self._failed(group, RetryableDelivery(f"internal error: {exc!r}"))
        return 0, None

    async def _deliver(self, destination: str, group: list[Queued]) -> None:
        dest = Destination.parse(destination)
        platform = self.platforms.get(dest.platform)
        if platform is None:
            raise PermanentDelivery(f"no chat platform {dest.platform!r} is configured")
        if group[0].kind == "text":
            await self._deliver_text(platform, dest, group[0])
        else:
            await self._deliver_card(platform, dest, group[0])

    async def _reader(self, conn: AsyncConnection, destination: str) -> Reader:
        """Who reads `destination` (its person for a direct chat), read once per pass."""
        if destination not in self._readers:
            default = Reader(self.settings.default_language, self.settings.default_timezone)
            self._readers[destination] = await reader_of(
                conn, destination, self.settings.languages, default
            )
        return self._readers[destination]

    async def _deliver_text(self, platform: ChatPlatform, dest: Destination, row: Queued) -> None:
        started = self.clock.now()
        async with self.db.connect() as conn:  # read, then let go before the network call
            lang = (await self._reader(conn, str(dest))).lang
            text, reply_to = await self._text(conn, str(dest), row, lang)
            await conn.commit()
        await platform.post_text(dest, text, reply_to=reply_to)
        self.metrics.cards_sent.labels(dest.platform, "text").inc()
        await self._done([row.id], started)

    async def _deliver_card(self, platform: ChatPlatform, dest: Destination, first: Queued) -> None:
        started, destination = self.clock.now(), str(dest)
        async with self.db.connect() as conn:  # read, then let go before the network call
            who = await self._reader(conn, destination)
            lang = who.lang
            card_ref = first.card_ref
            post = await self._post_row(conn, card_ref, destination)
            if post is not None and "digest" in post.ref:  # folded into a storm digest
                card_ref = post.ref["digest"]
                post = await self._post_row(conn, card_ref, destination)
            one_card = {"b_destination": destination, "b_card_ref": first.card_ref}
            newest = (await conn.execute(self.sql.newest, one_card)).scalar_one()
            card = await self.render(conn, card_ref, started, lang, tz=who.tz)
            mentions: tuple[str, ...] = ()
            if card is not None and post is None and dest.platform in MENTIONING:
                # a group following a rotation: its on-call people are @-mentioned when the
                # card first appears there, not again on each update or repost
                mentions = await group_mentions(conn, destination)
            await conn.commit()
        if card is not None:
            if not platform.capabilities.buttons:
                card = self.links.with_links(card, dest, started)
            if mentions:
                card = replace(card, mentions=mentions)
            if post is None:
                ref, kind = await platform.post_card(dest, card, lang=lang), "post"
            elif platform.capabilities.update_in_place:
                ref = await platform.update_card(dest, PostedRef(post.ref), card, lang=lang)
                kind = "update"
            elif post.shown != card.status:  # it cannot edit: a new message, for news only
                ref, kind = await platform.post_card(dest, card, lang=lang), "repost"
            else:
                ref, kind = PostedRef(post.ref), ""  # only counts changed: not worth a message
            if post is None or ref.data != post.ref or post.shown != card.status:
                await self._remember(card_ref, destination, ref, card.status, started)
            if kind:
                self.metrics.cards_sent.labels(dest.platform, kind).inc()
        await self._done_group(destination, first.card_ref, newest or first.id, started)

    async def _text(
        self, conn: AsyncConnection, destination: str, row: Queued, lang: str
    ) -> tuple[str, PostedRef | None]:
        payload = row.payload
        text = t(payload["key"], lang, **payload.get("params", {}))
        if payload.get("reply_to_card"):
            post = await self._post_row(conn, payload["reply_to_card"], destination)
            if post is not None and "digest" not in post.ref:
                return text, PostedRef(post.ref)
        return text, None

    async def _post_row(
        self, conn: AsyncConnection, card_ref: str, destination: str
    ) -> Posted | None:
        found = await conn.execute(
            self.sql.post_row, {"b_card_ref": card_ref, "b_destination": destination}
        )
        row = found.first()
        return Posted.of(row) if row is not None else None

    async def _remember(
        self, card_ref: str, destination: str, ref: PostedRef, shown: str, now: datetime
    ) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                self.sql.remember,
                {
                    "b_card_ref": card_ref,
                    "b_destination": destination,
                    "b_ref": ref.data,
                    "b_shown": shown,
                    "b_now": now,
                },
            )

    async def _done(self, ids: list[int], now: datetime) -> None:
        async with self.db.begin() as conn:
            await conn.execute(self.sql.done, {"b_ids": ids, "b_now": now})

    async def _done_group(
        self, destination: str, card_ref: str, newest: int, now: datetime
    ) -> None:
        """Every pending update of this card up to what was rendered is now delivered."""
        async with self.db.begin() as conn:
            await conn.execute(
                self.sql.done_group,
                {
                    "b_destination": destination,
                    "b_card_ref": card_ref,
                    "b_newest": newest,
                    "b_now": now,
                },
            )

    async def _release(self, rows: list[Queued], when: datetime) -> None:
        if not rows:
            return
        async with self.db.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([r.id for r in rows]))
                .values(claimed_until=None, next_attempt_at=when)
            )

    async def _failed(
        self, group: list[Queued], exc: DeliveryError, *, block: bool = False
    ) -> datetime | None:
        """Record a failed attempt; with `block`, a Retry-After holds back the destination for
        every replica, and its end is returned."""
        now = self.clock.now()
        attempts = max(r.attempts for r in group) + 1
        retry_after = exc.retry_after if isinstance(exc, RetryableDelivery) else None
        blocked = None
        if retry_after and block:
            blocked = now + timedelta(seconds=retry_after)
            await self.budgets.block(group[0].destination, now, blocked)
        final = not exc.retryable or attempts >= self.settings.max_attempts
        backoff = min(self.settings.base_backoff * (2 ** (attempts - 1)), self.settings.max_backoff)
        if retry_after:
            backoff = max(backoff, timedelta(seconds=retry_after))
        log.warning(
            "outbox delivery failed",
            destination=group[0].destination,
            attempts=attempts,
            final=final,
            error=str(exc),
        )
        if final:
            self.metrics.outbox_failed.inc(len(group))
        async with self.db.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([r.id for r in group]))
                .values(
                    attempts=attempts,
                    last_error=str(exc)[:2000],
                    claimed_until=None,
                    status="failed" if final else "pending",
                    next_attempt_at=now + backoff,
                )
            )
        return blocked
