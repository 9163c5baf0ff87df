"""Pruning resolved incidents with everything that hangs off them.

A batch takes the oldest prunable incidents, deletes their rows in the other tables (alerts,
card references, escalation, its log and pages, the alert-rollback decision, its Alertmanager
silences), then the incidents themselves: only those still resolved and with no alert,
escalation or page left, so an alert that an ingest is moving to a new incident right now (it
holds the alert's row) keeps its old incident until a later pass. Open incidents are never
touched, nor those whose card, pages or Alertmanager silences still wait to go out. Runs keep
their `incident_id` (the release ledger outlives the incident), and review drafts stay readable
by incident number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, delete, exists, literal, select
from sqlalchemy.sql.schema import Table

from bot.escalation.engine import ACTIVE
from bot.retention.batches import count_rows, delete_all, pick
from bot.retention.rules import ACTIVE_PAGES
from bot.silences.rows import DUE as AM_DUE
from bot.store.db import Database
from bot.store.tables import (
    alert_rollbacks,
    alerts,
    am_silences,
    card_posts,
    digests,
    escalation_log,
    escalations,
    incidents,
    outbox,
    page_sends,
    pages,
)

CARD_REF = literal("incident:") + cast(incidents.c.id, String)
"""The incident's card reference (`bot.incidents.status.card_ref`), in SQL."""


INCIDENT_TABLES = (
    "alerts",
    "card_posts",
    "pages",
    "page_sends",
    "escalation_log",
    "escalations",
    "alert_rollbacks",
    "am_silences",
    "incidents",
    "digests",
)
"""What pruning incidents deletes from, in order."""


def prunable(before: datetime) -> ColumnElement[bool]:
    """Resolved before the cut-off, and nothing about it still waiting to go out."""
    return and_(
        incidents.c.status == "resolved",
        incidents.c.resolved_at < before,
        ~exists().where(and_(outbox.c.card_ref == CARD_REF, outbox.c.status == "pending")),
        ~exists().where(
            and_(pages.c.incident_id == incidents.c.id, pages.c.status.in_(ACTIVE_PAGES))
        ),
        ~exists().where(
            and_(escalations.c.incident_id == incidents.c.id, escalations.c.state == ACTIVE)
        ),
        ~exists().where(  # a silence still to make or expire in Alertmanager
            and_(am_silences.c.incident_id == incidents.c.id, am_silences.c.state.in_(AM_DUE))
        ),
    )


def outlives(table: Table, before: datetime) -> ColumnElement[bool]:
    """Rows of `table` (by its `incident_id`) whose incident is not pruned with `before`."""
    return table.c.incident_id.not_in(select(incidents.c.id).where(prunable(before)))


def _dependents(chosen: Any) -> list[tuple[Table, ColumnElement[bool]]]:
    """Each table's rows that belong to the incidents `chosen` selects."""
    return [
        (alerts, alerts.c.incident_id.in_(chosen)),
        (card_posts, card_posts.c.card_ref.in_(select(CARD_REF).where(incidents.c.id.in_(chosen)))),
        (pages, pages.c.incident_id.in_(chosen)),
        (page_sends, page_sends.c.incident_id.in_(chosen)),
        (escalation_log, escalation_log.c.incident_id.in_(chosen)),
        (escalations, escalations.c.incident_id.in_(chosen)),
        (alert_rollbacks, alert_rollbacks.c.incident_id.in_(chosen)),
        (am_silences, am_silences.c.incident_id.in_(chosen)),
    ]


async def count_incidents(db: Database, before: datetime) -> dict[str, int]:
    """Rows a prune would delete, by table (a dry run)."""
    chosen = select(incidents.c.id).where(prunable(before))
    counts = {t.name: await count_rows(db, t, where) for t, where in _dependents(chosen)}
    counts["incidents"] = await count_rows(db, incidents, prunable(before))
    counts["digests"] = len(await _old_digests(db, before, limit=None))
    return counts


async def prune_incidents(
    db: Database, before: datetime, limit: int, batches: int | None
) -> tuple[dict[str, int], bool]:
    """Delete prunable incidents, `limit` at a time; returns rows by table and whether the
    pass stopped at `batches` with more left."""
    deleted: dict[str, int] = {}
    after, runs = 0, 0
    while batches is None or runs < batches:
        runs += 1
        async with db.connect() as conn:
            ids = list(
                (
                    await conn.execute(
                        select(incidents.c.id)
                        .where(and_(incidents.c.id > after, prunable(before)))
                        .order_by(incidents.c.id)
                        .limit(limit)
                    )
                ).scalars()
            )
        if not ids:
            break
        after = ids[-1]
        chosen = select(incidents.c.id).where(and_(incidents.c.id.in_(ids), prunable(before)))
        for table, where in _dependents(chosen):
            done, _ = await delete_all(db, table, where, limit, None)
            deleted[table.name] = deleted.get(table.name, 0) + done
        gone = await _delete_incidents(db, ids, before)
        deleted["incidents"] = deleted.get("incidents", 0) + gone
        if len(ids) < limit:
            break
    else:
        return deleted, True
    deleted["digests"] = await _prune_digests(db, before, limit)
    return deleted, False


async def _delete_incidents(db: Database, ids: Sequence[int], before: datetime) -> int:
    left = and_(
        incidents.c.id.in_(ids),
        prunable(before),
        ~exists().where(alerts.c.incident_id == incidents.c.id),
        ~exists().where(escalations.c.incident_id == incidents.c.id),
        ~exists().where(pages.c.incident_id == incidents.c.id),
    )
    async with db.begin() as conn:
        result = await conn.execute(
            delete(incidents).where(incidents.c.id.in_(pick(db, incidents, left, len(ids))))
        )
    return max(int(result.rowcount or 0), 0)


async def _old_digests(db: Database, before: datetime, limit: int | None) -> list[int]:
    """Closed digests untouched since the cut-off whose incidents are all gone or prunable."""
    found: list[int] = []
    after = 0
    while limit is None or len(found) < limit:
        async with db.connect() as conn:
            rows = (
                await conn.execute(
                    select(digests.c.id, digests.c.incident_ids)
                    .where(
                        and_(digests.c.id > after, ~digests.c.open, digests.c.updated_at < before)
                    )
                    .order_by(digests.c.id)
                    .limit(500)
                )
            ).all()
            if not rows:
                break
            after = rows[-1].id
            named = {int(i) for row in rows for i in row.incident_ids}
            kept = set(
                (
                    await conn.execute(
                        select(incidents.c.id).where(
                            and_(incidents.c.id.in_(named), ~prunable(before))
                        )
                    )
                ).scalars()
            )
        found += [row.id for row in rows if not kept & {int(i) for i in row.incident_ids}]
    return found[:limit] if limit is not None else found


async def _prune_digests(db: Database, before: datetime, limit: int) -> int:
    total = 0
    while ids := await _old_digests(db, before, limit):
        refs = [f"digest:{i}" for i in ids]
        async with db.begin() as conn:
            await conn.execute(delete(card_posts).where(card_posts.c.card_ref.in_(refs)))
            result = await conn.execute(
                delete(digests).where(
                    and_(digests.c.id.in_(ids), ~digests.c.open, digests.c.updated_at < before)
                )
            )
        total += max(int(result.rowcount or 0), 0)
        if len(ids) < limit:
            break
    return total
