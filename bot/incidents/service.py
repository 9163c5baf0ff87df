"""Actions people take on incidents, and the engine's timed ones. Each runs inside the caller's
transaction: the incident decides (`bot.incidents.aggregate`), the repository writes what
changed, and the change's events become outbox rows (in-place updates of every card of the
incident, texts to its chats) in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import UserError
from bot.i18n import t
from bot.incidents.aggregate import Incident, Transition
from bot.incidents.events import Announce, RefreshCard
from bot.incidents.repository import IncidentRepository
from bot.incidents.status import card_destinations, card_ref
from bot.incidents.times import clock
from bot.model import Reply
from bot.outbox.enqueue import Outbox
from bot.settings.durations import format_duration
from bot.store.db import Database
from bot.store.tables import card_posts, incidents, pages


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did: `changed` is False when it found nothing to do (and said why)."""

    changed: bool
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    announced: bool = False
    """The incident's chats were already told (through the outbox): answer only the person."""

    def text(self, lang: str) -> str:
        return t(self.key, lang, **self.params)

    def reply(self, lang: str) -> Reply:
        """The answer to whoever acted: public news, else private."""
        return Reply(self.text(lang), private=self.announced or not self.changed)


class IncidentService:
    """`posts_to`: the chat platforms the outbox posts to (None: every one); a chat elsewhere
    (a reply-only bot) cannot be given a live card."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        *,
        ack_timeout: timedelta | None,
        posts_to: frozenset[str] | None = None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.ack_timeout = ack_timeout
        self.posts_to = posts_to
        self.repository = IncidentRepository(db)

    async def load(
        self, conn: AsyncConnection, incident_id: int, *, lock: bool = False
    ) -> Incident:
        if lock:
            return await self.repository.load_for_update(conn, incident_id)
        return await self.repository.load(conn, incident_id)

    async def list_open(self, conn: AsyncConnection, limit: int = 20) -> list[Incident]:
        return await self.repository.list_open(conn, limit)

    async def commit(self, conn: AsyncConnection, change: Transition, now: datetime) -> None:
        """Save `change` and queue what its events ask the chats to see. (Escalation follows
        the stored status on its own pass; a delayed card refresh is the stored `card_due_at`.)
        """
        await self.repository.save(conn, change)
        incident = change.after
        for event in change.events:
            if isinstance(event, RefreshCard):
                await self.refresh_cards(conn, incident, now)
            elif isinstance(event, Announce):
                await self.outbox.text(
                    conn,
                    incident.destinations,
                    event.key,
                    event.params,
                    now=now,
                    reply_to_card=card_ref(incident.id),
                    priority=incident.tier.rank,
                )

    async def refresh_cards(self, conn: AsyncConnection, incident: Incident, now: datetime) -> None:
        await self.outbox.card(
            conn,
            card_ref(incident.id),
            card_destinations(incident),
            priority=incident.tier.rank,
            now=now,
        )

    async def show_in(
        self, conn: AsyncConnection, incident: Incident, destination: str, now: datetime
    ) -> bool:
        """Post the incident's live card in `destination` (a `/incident show`): from then on
        it is one of the chats its card is shown in, so every change edits it in place. Where
        the card was shown already, the new post takes over (the old one stops changing).
        False when the outbox cannot post there (the caller answers with a copy instead)."""
        platform = destination.partition(":")[0]
        if self.posts_to is not None and platform not in self.posts_to:
            return False
        ref = card_ref(incident.id)
        if destination in card_destinations(incident):
            await conn.execute(
                delete(card_posts).where(
                    and_(card_posts.c.card_ref == ref, card_posts.c.destination == destination)
                )
            )
        else:
            await conn.execute(
                update(incidents)
                .where(incidents.c.id == incident.id)
                .values(page_destinations=[*incident.page_destinations, destination])
            )
        await self.outbox.card(conn, ref, [destination], priority=incident.tier.rank, now=now)
        return True

    async def _act(
        self,
        conn: AsyncConnection,
        decide: Callable[[], Transition],
        now: datetime,
        done: Outcome,
    ) -> Outcome:
        """Run a person's transition: `done` when it happened, else the incident's refusal."""
        try:
            change = decide()
        except UserError as refused:
            return Outcome(False, refused.text_key, dict(refused.text_params))
        await self.commit(conn, change, now)
        return done

    async def acknowledge(
        self,
        conn: AsyncConnection,
        incident: Incident,
        who: str,
        now: datetime,
        via: str | None = None,
    ) -> Outcome:
        """`via`: how it came (a chat platform, ``sms_reply``, ``voice_key``, ``link:sms``)."""
        done = Outcome(True, "incident.acked", {"id": incident.id, "user": who})
        return await self._act(
            conn, lambda: incident.acknowledge(who, now, self.ack_timeout, via), now, done
        )

    async def first_page_at(self, conn: AsyncConnection, incident: Incident) -> datetime | None:
        """When the incident's current episode first paged someone (None: nobody was paged),
        the start of its time to acknowledge."""
        stmt = select(func.min(pages.c.created_at)).where(pages.c.incident_id == incident.id)
        if incident.triggered_at is not None:
            stmt = stmt.where(pages.c.created_at >= incident.triggered_at)
        first: datetime | None = (await conn.execute(stmt)).scalar()
        return first

    async def unacknowledge(
        self, conn: AsyncConnection, incident: Incident, who: str, now: datetime
    ) -> Outcome:
        done = Outcome(True, "incident.unacked", {"id": incident.id, "user": who})
        return await self._act(conn, lambda: incident.unacknowledge(who, now), now, done)

    async def silence(
        self,
        conn: AsyncConnection,
        incident: Incident,
        who: str,
        now: datetime,
        duration: timedelta,
        *,
        tz: str = "UTC",
        lang: str = "en",
    ) -> Outcome:
        """Silence for `duration`; the answer says until when in zone `tz`, written for `lang`."""
        params = {
            "id": incident.id,
            "user": who,
            "duration": format_duration(duration),
            "until": clock(now + duration, now, tz, lang),
        }
        done = Outcome(True, "incident.silenced", params)
        return await self._act(conn, lambda: incident.silence(who, now, duration), now, done)

    async def unsilence(
        self, conn: AsyncConnection, incident: Incident, who: str, now: datetime
    ) -> Outcome:
        """Lift the incident's silence now (the incident alone: what Alertmanager holds is
        `bot.silences`' business)."""
        done = Outcome(True, "incident.unsilenced", {"id": incident.id, "user": who})
        return await self._act(conn, lambda: incident.unsilence(who, now), now, done)

    async def resolve(
        self, conn: AsyncConnection, incident: Incident, who: str, now: datetime
    ) -> Outcome:
        done = Outcome(True, "incident.resolved", {"id": incident.id, "user": who})
        return await self._act(conn, lambda: incident.resolve(who, now), now, done)

    # -- engine passes ----------------------------------------------------------------------

    async def expire_acks(self, conn: AsyncConnection, now: datetime) -> list[int]:
        """Acknowledgements past their expiry re-trigger the incident (engine pass)."""
        done = []
        for incident in await self.repository.acks_expired(conn, now):
            await self.commit(conn, incident.expire_ack(now), now)
            done.append(incident.id)
        return done

    async def end_silences(self, conn: AsyncConnection, now: datetime) -> list[int]:
        """Silences that ran out: the card shows the live status again (engine pass)."""
        done = []
        for incident in await self.repository.silences_ended(conn, now):
            await self.commit(conn, incident.end_silence(now), now)
            done.append(incident.id)
        return done

    async def settle_flapping(
        self, conn: AsyncConnection, now: datetime, window: timedelta
    ) -> list[int]:
        """Flapping incidents whose alerts kept still for `window` stop flapping, and resolve
        when nothing fires (engine pass)."""
        done = []
        for incident in await self.repository.flapping_quiet(conn, now - window):
            await self.commit(conn, incident.settle_flapping(now, window), now)
            done.append(incident.id)
        return done
