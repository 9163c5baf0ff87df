"""Actions people take on incidents. Each runs inside the caller's transaction, changes the row
once (idempotently) and queues an in-place update of every card of the incident."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import UserError
from bot.i18n import t
from bot.incidents.status import Status, card_destinations, card_ref
from bot.model import Reply, Tier
from bot.outbox.enqueue import Outbox
from bot.settings.durations import format_duration
from bot.store.db import Database
from bot.store.tables import incidents


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
    def __init__(self, db: Database, outbox: Outbox, *, ack_timeout: timedelta | None) -> None:
        self.db = db
        self.outbox = outbox
        self.ack_timeout = ack_timeout

    async def load(self, conn: AsyncConnection, incident_id: int, *, lock: bool = False) -> Any:
        stmt = select(incidents).where(incidents.c.id == incident_id)
        row = (await conn.execute(self.db.for_update(stmt) if lock else stmt)).first()
        if row is None:
            raise UserError("incident.not_found", id=incident_id)
        return row

    async def _change(self, conn: AsyncConnection, row: Any, now: datetime, **values: Any) -> None:
        await conn.execute(
            update(incidents)
            .where(incidents.c.id == row.id)
            .values(**values, updated_at=now, version=incidents.c.version + 1)
        )
        await self.refresh_cards(conn, row, now)

    async def refresh_cards(self, conn: AsyncConnection, row: Any, now: datetime) -> None:
        await self.outbox.card(
            conn, card_ref(row.id), card_destinations(row), priority=Tier(row.tier).rank, now=now
        )

    async def acknowledge(
        self, conn: AsyncConnection, row: Any, who: str, now: datetime
    ) -> Outcome:
        if row.status == Status.RESOLVED:
            return Outcome(False, "incident.already_resolved", {"id": row.id})
        if row.status == Status.ACKNOWLEDGED:
            return Outcome(False, "incident.already_acked", {"id": row.id, "user": row.acked_by})
        expires = now + self.ack_timeout if self.ack_timeout else None
        await self._change(
            conn,
            row,
            now,
            status=Status.ACKNOWLEDGED,
            acked_by=who,
            acked_at=now,
            ack_expires_at=expires,
        )
        return Outcome(True, "incident.acked", {"id": row.id, "user": who})

    async def unacknowledge(
        self, conn: AsyncConnection, row: Any, who: str, now: datetime
    ) -> Outcome:
        if row.status != Status.ACKNOWLEDGED:
            return Outcome(False, "incident.not_acked", {"id": row.id})
        await self._change(
            conn,
            row,
            now,
            status=Status.TRIGGERED,
            acked_by=None,
            acked_at=None,
            ack_expires_at=None,
            triggered_at=now,
        )
        return Outcome(True, "incident.unacked", {"id": row.id, "user": who})

    async def silence(
        self, conn: AsyncConnection, row: Any, who: str, now: datetime, duration: timedelta
    ) -> Outcome:
        if row.status == Status.RESOLVED:
            return Outcome(False, "incident.already_resolved", {"id": row.id})
        until = now + duration
        await self._change(conn, row, now, silenced_until=until)
        return Outcome(
            True,
            "incident.silenced",
            {
                "id": row.id,
                "user": who,
                "duration": format_duration(duration),
                "until": until.strftime("%Y-%m-%d %H:%M UTC"),
            },
        )

    async def resolve(self, conn: AsyncConnection, row: Any, who: str, now: datetime) -> Outcome:
        if row.status == Status.RESOLVED:
            return Outcome(False, "incident.already_resolved", {"id": row.id})
        await self._change(
            conn,
            row,
            now,
            status=Status.RESOLVED,
            resolved_by=who,
            resolved_at=now,
            silenced_until=None,
            ack_expires_at=None,
        )
        return Outcome(True, "incident.resolved", {"id": row.id, "user": who})

    async def list_open(self, conn: AsyncConnection, limit: int = 20) -> list[Any]:
        stmt = (
            select(incidents)
            .where(incidents.c.status != Status.RESOLVED)
            .order_by(incidents.c.tier, incidents.c.id.desc())
            .limit(limit)
        )
        return list((await conn.execute(stmt)).all())

    async def expire_acks(self, conn: AsyncConnection, now: datetime) -> list[int]:
        """Acknowledgements past their expiry re-trigger the incident (engine pass)."""
        stmt = self.db.for_update(
            select(incidents)
            .where(
                and_(incidents.c.status == Status.ACKNOWLEDGED, incidents.c.ack_expires_at <= now)
            )
            .limit(100),
            skip_locked=True,
        )
        done = []
        for row in (await conn.execute(stmt)).all():
            await self._change(
                conn,
                row,
                now,
                status=Status.TRIGGERED,
                acked_by=None,
                acked_at=None,
                ack_expires_at=None,
                triggered_at=now,
            )
            await self.outbox.text(
                conn,
                row.destinations,
                "incident.ack_expired",
                {"id": row.id, "user": row.acked_by},
                now=now,
                reply_to_card=card_ref(row.id),
                priority=Tier(row.tier).rank,
            )
            done.append(row.id)
        return done

    async def end_silences(self, conn: AsyncConnection, now: datetime) -> list[int]:
        """Silences that ran out: the card shows the live status again (engine pass)."""
        stmt = self.db.for_update(
            select(incidents)
            .where(and_(incidents.c.status != Status.RESOLVED, incidents.c.silenced_until <= now))
            .limit(100),
            skip_locked=True,
        )
        done = []
        for row in (await conn.execute(stmt)).all():
            await self._change(conn, row, now, silenced_until=None)
            if row.firing_count > 0:
                await self.outbox.text(
                    conn,
                    row.destinations,
                    "incident.silence_ended",
                    {"id": row.id},
                    now=now,
                    reply_to_card=card_ref(row.id),
                    priority=Tier(row.tier).rank,
                )
            done.append(row.id)
        return done
