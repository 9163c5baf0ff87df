"""A review's follow-up items, tracked until done: written once with the review's draft, marked
done or reopened from the review card's buttons or `/review done|undo`, listed by `/review list`
and counted by the noise report (`bot.reviews.stale`) while they stay open.

Written once: the items go in the transaction that inserts the draft (`rca_drafts`, one row per
rollback run), and only when that insert made the row, so a second write of the same review, by
this replica or another, adds nothing. Marking is one conditional UPDATE, so two people pressing
Done at once mark it once and the second is told it was already done."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from bot.store.tables import followups, incidents, runs

LIST_LIMIT = 50
"""At most this many open items in one `/review list` answer (the oldest)."""


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    run_id: int | None
    incident_id: int | None
    position: int
    text: str
    """In the default language at the time the review was written."""
    done: bool
    done_by: str | None
    done_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An open item with where it belongs, for `/review list`."""

    item: Item
    service: str
    environment: str


_COLUMNS = (
    followups.c.id,
    followups.c.run_id,
    followups.c.incident_id,
    followups.c.position,
    followups.c.text,
    followups.c.done,
    followups.c.done_by,
    followups.c.done_at,
    followups.c.created_at,
)


def _item(row: object) -> Item:
    return Item(*(getattr(row, c.name) for c in _COLUMNS))


async def create(
    conn: AsyncConnection,
    *,
    run_id: int | None,
    incident_id: int | None,
    texts: Sequence[str],
    now: datetime,
) -> None:
    """Track `texts` as the review's items; the caller writes them once (see the module)."""
    rows = [
        {
            "run_id": run_id,
            "incident_id": incident_id,
            "position": position,
            "text": text,
            "done": False,
            "created_at": now,
            "updated_at": now,
        }
        for position, text in enumerate(texts)
    ]
    if rows:
        await conn.execute(followups.insert(), rows)


async def of_run(conn: AsyncConnection, run_id: int) -> list[Item]:
    """The items of the review of rollback run `run_id`, in the review's order."""
    stmt = (
        select(*_COLUMNS)
        .where(followups.c.run_id == run_id)
        .order_by(followups.c.position, followups.c.id)
    )
    return [_item(row) for row in (await conn.execute(stmt)).all()]


async def load(conn: AsyncConnection, item_id: int) -> Item | None:
    row = (await conn.execute(select(*_COLUMNS).where(followups.c.id == item_id))).first()
    return _item(row) if row is not None else None


async def scope(conn: AsyncConnection, item: Item) -> tuple[str, str]:
    """The (service, environment) an item is about: its rollback run's, else its incident's."""
    if item.run_id is not None:
        stmt = select(runs.c.service, runs.c.environment).where(runs.c.id == item.run_id)
    else:
        stmt = select(incidents.c.service, incidents.c.environment).where(
            incidents.c.id == item.incident_id
        )
    row = (await conn.execute(stmt)).first()
    return (row[0], row[1]) if row is not None else ("", "")


async def mark(conn: AsyncConnection, item_id: int, *, done: bool, by: str, now: datetime) -> bool:
    """Mark the item done (or open again); False when it already was."""
    values = (
        {"done": True, "done_by": by, "done_at": now}
        if done
        else {"done": False, "done_by": None, "done_at": None}
    )
    changed = await conn.execute(
        update(followups)
        .where(and_(followups.c.id == item_id, followups.c.done.is_(not done)))
        .values(**values, updated_at=now)
    )
    return bool(changed.rowcount == 1)


def _open_query(service: str | None) -> tuple[Select[Any], Select[Any]]:
    service_col = func.coalesce(runs.c.service, incidents.c.service, "")
    environment_col = func.coalesce(runs.c.environment, incidents.c.environment, "")
    source = followups.outerjoin(runs, runs.c.id == followups.c.run_id).outerjoin(
        incidents, incidents.c.id == followups.c.incident_id
    )
    where: ColumnElement[bool] = followups.c.done.is_(False)
    if service:
        where = and_(where, service_col == service)
    return (
        select(*_COLUMNS, service_col.label("service"), environment_col.label("environment"))
        .select_from(source)
        .where(where)
        .order_by(followups.c.created_at, followups.c.id)
        .limit(LIST_LIMIT),
        select(func.count()).select_from(source).where(where),
    )


async def open_items(
    conn: AsyncConnection, service: str | None = None
) -> tuple[list[OpenItem], int]:
    """The oldest open items (at most `LIST_LIMIT`), of `service` when given, and how many are
    open in all. Reads the open-items index (`done`, `created_at`) in order."""
    listing, counting = _open_query(service)
    rows = (await conn.execute(listing)).all()
    found = [OpenItem(_item(row), row.service, row.environment) for row in rows]
    total = len(found)
    if total == LIST_LIMIT:
        total = int((await conn.execute(counting)).scalar_one())
    return found, total
