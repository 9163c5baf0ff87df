"""The outbox worker's SQL, built once per dialect (it runs for every delivery)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from bot.store.tables import card_posts, outbox


@dataclass(frozen=True, slots=True)
class Statements:
    """Built once, then only ever executed: typed as what `AsyncConnection.execute` takes."""

    claim: Executable
    lease: Executable
    post_row: Executable
    newest: Executable
    done_group: Executable
    done: Executable
    remember: Executable


PER_DESTINATION = 25
"""Rows one pass takes for one destination at most: a chat with hundreds of due cards (a storm)
leaves room in the batch for every other chat, instead of filling it pass after pass."""


@functools.cache
def statements(is_sqlite: bool) -> Statements:
    due = and_(
        outbox.c.status == "pending",
        outbox.c.next_attempt_at <= bindparam("b_now"),
        or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < bindparam("b_now")),
    )
    ranked = (
        select(
            outbox.c.id,
            func.row_number()
            .over(partition_by=outbox.c.destination, order_by=(outbox.c.priority, outbox.c.id))
            .label("n"),
        )
        .where(due)
        .subquery()
    )
    fair = select(ranked.c.id).where(ranked.c.n <= PER_DESTINATION)
    # Ranked without locks (PostgreSQL locks no rows of a windowed query), then locked by id.
    claim = (
        select(outbox)
        .where(due, outbox.c.id.in_(fair))
        .order_by(outbox.c.priority, outbox.c.id)
        .limit(bindparam("b_batch"))
    )
    insert = sqlite.insert if is_sqlite else postgresql.insert
    remember = insert(card_posts).values(
        card_ref=bindparam("b_card_ref"),
        destination=bindparam("b_destination"),
        ref=bindparam("b_ref", type_=card_posts.c.ref.type),
        shown=bindparam("b_shown"),
        created_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
    )
    one_card = and_(
        outbox.c.destination == bindparam("b_destination"),
        outbox.c.card_ref == bindparam("b_card_ref"),
        outbox.c.status == "pending",
    )
    return Statements(
        claim=claim if is_sqlite else claim.with_for_update(skip_locked=True),
        lease=update(outbox)
        .where(outbox.c.id.in_(bindparam("b_ids", expanding=True)))
        .values(claimed_until=bindparam("b_until")),
        post_row=select(card_posts).where(
            card_posts.c.card_ref == bindparam("b_card_ref"),
            card_posts.c.destination == bindparam("b_destination"),
        ),
        newest=select(func.max(outbox.c.id)).where(one_card),
        done_group=update(outbox)
        .where(and_(one_card, outbox.c.id <= bindparam("b_newest")))
        .values(status="sent", sent_at=bindparam("b_now"), claimed_until=None),
        done=update(outbox)
        .where(outbox.c.id.in_(bindparam("b_ids", expanding=True)))
        .values(status="sent", sent_at=bindparam("b_now"), claimed_until=None),
        remember=remember.on_conflict_do_update(
            index_elements=["card_ref", "destination"],
            set_={
                "ref": remember.excluded.ref,
                "shown": remember.excluded.shown,
                "updated_at": remember.excluded.updated_at,
            },
        ),
    )
