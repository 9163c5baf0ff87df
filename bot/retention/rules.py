"""What each retention setting deletes, as cut-off times and row conditions.

A cut-off is never later than what the rest of Tocsin still reads: resolved incidents stay for
at least the reopen window, de-duplication records and used links until every action link that
could name them has expired, pages for at least the longest paging rate-limit window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.sql.schema import Table

from bot.links import DEFAULT_TTL
from bot.settings import Settings
from bot.store.tables import (
    console_messages,
    escalation_log,
    gate_measurements,
    gate_runs,
    inbound_events,
    inbox,
    incidents,
    maintenance_windows,
    outbox,
    page_receipts,
    page_sends,
    pages,
    schedule_overrides,
    sign_in_failures,
    swap_requests,
    used_links,
)

SIGN_IN_FAILURES = timedelta(days=1)
"""Console sign-in back-off state is forgotten a day after the last failure (longer than any
back-off, see `adapters.chat.console.throttle`)."""

ACTIVE_PAGES = ("pending", "sending")
"""Pages still on their way to a phone or mailbox."""


@dataclass(frozen=True, slots=True)
class Cutoff:
    key: str
    """The `retention.*` setting (or ``used_links``, which follows the action links)."""
    before: datetime | None
    """Rows older than this go; None keeps them forever."""
    what: str
    """What the cut-off applies to, for the report."""


def cutoffs(settings: Settings, now: datetime) -> dict[str, Cutoff]:
    r = settings.retention
    links = max(DEFAULT_TTL, settings.paging.link_ttl) + timedelta(hours=1)
    reopen = settings.incidents.reopen_window
    windows = [w.per for ws in settings.paging.rate_limits.values() for w in ws]
    paging = max([reopen, *windows])

    def at(age: timedelta | None, least: timedelta = timedelta(0)) -> datetime | None:
        return None if age is None else now - max(age, least)

    found = [
        Cutoff("incidents", at(r.incidents, reopen), "incidents resolved before"),
        Cutoff(
            "pages", at(r.pages, paging), "pages and escalation logs of incidents resolved before"
        ),
        Cutoff("outbox", at(r.outbox), "chat messages delivered or given up before"),
        Cutoff("inbound_events", at(r.inbound_events, links), "platform events received before"),
        Cutoff("used_links", now - links, "action links used before"),
        Cutoff("sign_in_failures", now - SIGN_IN_FAILURES, "console sign-in failures before"),
        Cutoff("console_messages", at(r.console_messages), "console messages last changed before"),
        Cutoff(
            "gate_measurements", at(r.gate_measurements), "measurements of gates decided before"
        ),
        Cutoff("oncall_history", at(r.oncall_history), "overrides and swaps ended before"),
        Cutoff(
            "maintenance_windows", at(r.maintenance_windows), "maintenance windows ended before"
        ),
        Cutoff("audit_log", at(r.audit_log), "audit entries written before"),
    ]
    return {c.key: c for c in found}


@dataclass(frozen=True, slots=True)
class Rule:
    """Rows of one table that go once older than one cut-off."""

    key: str
    table: Table
    where: ColumnElement[bool]


def simple_rules(found: dict[str, Cutoff]) -> list[Rule]:
    """The tables pruned by age alone (incidents and the audit log have their own modules)."""
    rules: list[Rule] = []
    for key, cutoff in found.items():
        if cutoff.before is not None:
            rules += [Rule(key, table, where) for table, where in _conditions(key, cutoff.before)]
    return rules


def _conditions(key: str, before: datetime) -> list[tuple[Table, ColumnElement[bool]]]:
    if key == "pages":
        resolved = select(incidents.c.id).where(
            and_(incidents.c.status == "resolved", incidents.c.resolved_at < before)
        )
        return [
            (
                pages,
                and_(
                    pages.c.incident_id.in_(resolved),
                    pages.c.created_at < before,
                    pages.c.status.not_in(ACTIVE_PAGES),
                ),
            ),
            (
                escalation_log,
                and_(escalation_log.c.incident_id.in_(resolved), escalation_log.c.ran_at < before),
            ),
            (
                page_sends,
                and_(page_sends.c.incident_id.in_(resolved), page_sends.c.sent_at < before),
            ),
            # a report is applied within seconds; one for a send nobody recorded waits no longer
            (page_receipts, page_receipts.c.received_at < before),
        ]
    if key == "outbox":
        finished = and_(
            outbox.c.status.in_(("sent", "failed")),
            outbox.c.next_attempt_at < before,  # (status, next_attempt_at) is indexed
            outbox.c.created_at < before,
        )
        return [(outbox, finished)]
    if key == "inbound_events":
        settled = and_(inbox.c.state != "pending", inbox.c.created_at < before)
        return [(inbound_events, inbound_events.c.received_at < before), (inbox, settled)]
    if key == "used_links":
        return [(used_links, used_links.c.used_at < before)]
    if key == "sign_in_failures":
        return [(sign_in_failures, sign_in_failures.c.last_failure_at < before)]
    if key == "console_messages":
        return [(console_messages, console_messages.c.updated_at < before)]
    if key == "gate_measurements":
        decided = select(gate_runs.c.id).where(gate_runs.c.decided_at < before)
        return [(gate_measurements, gate_measurements.c.gate_run_id.in_(decided))]
    if key == "oncall_history":
        closed = or_(swap_requests.c.decided_at.is_(None), swap_requests.c.decided_at < before)
        return [
            (schedule_overrides, schedule_overrides.c.ends_at < before),
            (swap_requests, and_(swap_requests.c.expires_at < before, closed)),
        ]
    if key == "maintenance_windows":
        w = maintenance_windows.c
        ended = func.coalesce(w.ended_at, w.ends_at)  # a window with neither has not ended
        return [(maintenance_windows, and_(ended.is_not(None), ended < before))]
    return []  # incidents and audit_log: see `bot.retention.incidents`, `bot.audit.prune`
