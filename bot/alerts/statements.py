"""The ingest's SQL, built once per dialect: the hot path then only binds parameters.

Building a SQLAlchemy statement and computing its cache key costs more than executing it on a
warm connection, so statements that run for every alert are made here, not per request.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    any_,
    bindparam,
    case,
    func,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from bot.incidents.status import Status
from bot.store.tables import alerts, incidents

OPEN = text("status != 'resolved'")  # a literal, so PostgreSQL can match the partial index

# Everything `_write_incident` sets, always, so one statement serves every case.
INCIDENT_STATE = (
    "card_due_at",
    "firing_count",
    "alert_count",
    "tier",
    "updated_at",
    "flapping",
    "status",
    "resolved_at",
    "resolved_by",
    "acked_by",
    "acked_at",
    "ack_expires_at",
    "triggered_at",
    "silenced_until",
)


@dataclass(frozen=True, slots=True)
class Statements:
    """Built once, then only ever executed: typed as what `AsyncConnection.execute` takes."""

    peek: Executable
    lock_alerts: Executable
    lock_alert: Executable
    lock_incidents: Executable
    find_group: Executable
    open_group: Executable
    insert_alerts: Executable
    insert_incident: Executable
    write_incident: Executable
    set_alert: Executable


def _peek(is_sqlite: bool) -> Any:
    """What is known of the alerts of one source with these fingerprints (`fps`).

    On PostgreSQL, one unique-index probe per fingerprint whatever the planner's statistics
    say: the fingerprints are a table (`unnest`) that a LATERAL subquery probes one at a time
    (its LIMIT keeps the planner from flattening it into a join, which under statistics taken
    while `alerts` was small became a scan of every alert of the source). The incident's
    status is a per-row primary-key look-up for the same reason.
    """
    incident_status = (
        select(incidents.c.status)
        .where(incidents.c.id == alerts.c.incident_id)
        .scalar_subquery()
        .label("incident_status")
    )
    columns = (
        alerts.c.id,
        alerts.c.source,
        alerts.c.fingerprint,
        alerts.c.status,
        alerts.c.starts_at,
        incident_status,
    )
    source = alerts.c.source == bindparam("source")
    if is_sqlite:
        return select(*columns).where(
            source, alerts.c.fingerprint.in_(bindparam("fps", expanding=True))
        )
    fps = bindparam("fps", type_=postgresql.ARRAY(String()))
    wanted = func.unnest(fps).table_valued("fp").render_derived(name="wanted")
    probe = select(*columns).where(source, alerts.c.fingerprint == wanted.c.fp).limit(1).lateral()
    return select(probe).select_from(wanted).join(probe, true())


@functools.cache
def statements(is_sqlite: bool) -> Statements:
    def locked(stmt: Any) -> Any:
        return stmt if is_sqlite else stmt.with_for_update()

    def among(column: Any, name: str, item: Any) -> Any:
        """`column` is one of the list bound as `name`: one array parameter on PostgreSQL
        (one statement, one plan, whatever the list's length), an expanded IN on SQLite."""
        if is_sqlite:
            return column.in_(bindparam(name, expanding=True))
        return column == any_(bindparam(name, type_=postgresql.ARRAY(item)))

    insert = sqlite.insert if is_sqlite else postgresql.insert
    return Statements(
        peek=_peek(is_sqlite),
        lock_alerts=locked(
            select(alerts).where(among(alerts.c.id, "ids", BigInteger())).order_by(alerts.c.id)
        ),
        lock_alert=locked(
            select(alerts).where(
                alerts.c.source == bindparam("source"),
                alerts.c.fingerprint == bindparam("fingerprint"),
            )
        ),
        lock_incidents=locked(
            select(incidents)
            .where(among(incidents.c.id, "ids", BigInteger()))
            .order_by(incidents.c.id)
        ),
        find_group=locked(
            select(incidents)
            .where(
                incidents.c.group_key == bindparam("group_key"),
                (incidents.c.status != Status.RESOLVED)
                | (incidents.c.resolved_at >= bindparam("since")),
            )
            .order_by(
                case((incidents.c.status != Status.RESOLVED, 0), else_=1),
                incidents.c.resolved_at.desc(),
            )
            .limit(1)
        ),
        open_group=locked(
            select(incidents).where(incidents.c.group_key == bindparam("group_key"), OPEN)
        ),
        insert_alerts=(
            insert(alerts)
            .on_conflict_do_nothing()
            .returning(alerts.c.id, alerts.c.source, alerts.c.fingerprint)
        ),
        insert_incident=(
            insert(incidents)
            .on_conflict_do_nothing(index_elements=["group_key"], index_where=OPEN)
            .returning(*incidents.c)
        ),
        write_incident=(
            update(incidents)
            .where(incidents.c.id == bindparam("incident_id"))
            .values(
                {name: bindparam(f"v_{name}") for name in INCIDENT_STATE}
                | {"version": incidents.c.version + 1}
            )
        ),
        set_alert=(
            update(alerts)
            .where(alerts.c.id == bindparam("alert_id"))
            .values(
                status=bindparam("v_status"),
                starts_at=bindparam("v_starts_at"),
                ends_at=bindparam("v_ends_at"),
                last_seen_at=bindparam("v_now"),
                changes=bindparam("v_changes", type_=alerts.c.changes.type),
                received_count=alerts.c.received_count + bindparam("v_n"),
                incident_id=bindparam("v_incident"),
                labels=bindparam("v_labels", type_=alerts.c.labels.type),
                annotations=bindparam("v_annotations", type_=alerts.c.annotations.type),
                summary=bindparam("v_summary"),
            )
        ),
    )
