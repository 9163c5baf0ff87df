"""One escalation pass's decisions, gathered so they are written with one statement per table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.escalation.channels import Delivery
from bot.escalation.recipients import Recipient
from bot.incidents.aggregate import Incident
from bot.oncall import Override
from bot.store.db import Database
from bot.store.tables import escalations, pages, round_robin

PAGE_KEY = (
    pages.c.incident_id,
    pages.c.cycle,
    pages.c.loop,
    pages.c.step,
    pages.c.recipient,
    pages.c.channel,
)


MOVE = (
    update(escalations)
    .where(escalations.c.incident_id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        step=bindparam("b_step"),
        loop=bindparam("b_loop"),
        next_at=bindparam("b_next_at", type_=escalations.c.next_at.type),
        updated_at=bindparam("b_updated_at", type_=escalations.c.updated_at.type),
    )
)


@dataclass
class Batch:
    """What one pass decided, written together by `Escalator._write`."""

    overrides: Mapping[str, Sequence[Override]]
    moves: dict[int, dict[str, Any]] = field(default_factory=dict)
    policies: dict[int, str] = field(default_factory=dict)
    turns: dict[tuple[str, int], int] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)
    pages: list[dict[str, object]] = field(default_factory=list)
    channels: dict[tuple[object, ...], list[str]] = field(default_factory=dict)
    """Page key → the recipient's channel list in the log detail, filled once written."""

    async def turn(self, conn: AsyncConnection, db: Database, policy: str, step: int) -> int:
        """The round-robin counter of a policy's step, moved on by one (written at the end)."""
        key = (policy, step)
        if key not in self.turns:
            await conn.execute(
                db.insert(round_robin)
                .values(policy=policy, step=step, counter=0)
                .on_conflict_do_nothing()
            )
            where = and_(round_robin.c.policy == policy, round_robin.c.step == step)
            stmt = db.for_update(select(round_robin.c.counter).where(where))
            self.turns[key] = int((await conn.execute(stmt)).scalar_one())
        self.turns[key] += 1
        return self.turns[key] - 1

    def move(self, esc: Any, now: datetime, **values: Any) -> None:
        self.policies[esc.incident_id] = esc.policy
        current = {"state": esc.state, "step": esc.step, "loop": esc.loop, "next_at": esc.next_at}
        self.moves[esc.incident_id] = {
            f"b_{k}": v for k, v in {**current, **values, "updated_at": now}.items()
        } | {"b_id": esc.incident_id}

    def log(self, esc: Any, kind: str, now: datetime, detail: dict[str, Any]) -> None:
        self.logs.append(
            {
                "incident_id": esc.incident_id,
                "cycle": esc.cycle,
                "loop": esc.loop,
                "step": esc.step,
                "kind": kind,
                "due_at": esc.next_at,
                "ran_at": now,
                "detail": detail,
            }
        )

    def page(
        self,
        esc: Any,
        incident: Incident,
        recipient: Recipient,
        delivery: Delivery,
        now: datetime,
        channels: list[str],
    ) -> None:
        chat = delivery.channel == "chat"
        row: dict[str, object] = {
            "incident_id": incident.id,
            "cycle": esc.cycle,
            "loop": esc.loop,
            "step": esc.step,
            "recipient": recipient.key,
            "channel": delivery.channel,
            "address": delivery.address,
            "status": "queued" if chat else "pending",
            "reason": "",
            "provider": "outbox" if chat else "",
            "provider_ref": "",
            "attempts": 0,
            "next_attempt_at": None if chat else now,
            "created_at": now,
            "sent_at": now if chat else None,
        }
        self.channels[tuple(row[c.name] for c in PAGE_KEY)] = channels
        self.pages.append(row)
