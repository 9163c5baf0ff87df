"""One pruning pass over every growing table, or a dry run that only counts.

Deploy and rollback runs, their approvals, locks, gate decisions, drills and review drafts are
the release ledger and are never pruned; neither are preferences, schedule state or rotation
counters, which do not grow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy import and_

from bot.audit.prune import count_prunable, prune_batch
from bot.errors import AuditChainBroken
from bot.retention.batches import count_rows, delete_all
from bot.retention.incidents import INCIDENT_TABLES, count_incidents, outlives, prune_incidents
from bot.retention.rules import Cutoff, cutoffs, simple_rules
from bot.settings import Settings
from bot.store.db import Database

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class PruneReport:
    now: datetime
    dry_run: bool
    cutoffs: dict[str, Cutoff]
    rows: dict[str, int] = field(default_factory=dict)
    """Rows deleted (or, in a dry run, that would be), by table."""
    more: bool = False
    """The pass stopped at its batch budget; another pass continues."""
    problems: list[str] = field(default_factory=list)

    def add(self, table: str, rows: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def lines(self) -> list[str]:
        """The report as `tocsin db prune` prints it."""
        out = [f"Cut-off dates (now {_when(self.now)}):"]
        for key, cutoff in self.cutoffs.items():
            kept = "kept forever" if cutoff.before is None else ""
            out.append(f"  {key:<18} {kept or f'{cutoff.what} {_when(cutoff.before)}'}")
        out.append("Would delete (dry run, nothing deleted):" if self.dry_run else "Deleted:")
        width = max([len(name) for name in self.rows] + [5])
        out += [f"  {name:<{width}} {rows:>9}" for name, rows in self.rows.items()]
        out.append(f"  {'total':<{width}} {self.total:>9}")
        if self.more:
            out.append("More is left: the next pass continues.")
        out += [f"Problem: {problem}" for problem in self.problems]
        return out


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else "-"


async def prune(
    db: Database,
    settings: Settings,
    now: datetime,
    *,
    dry_run: bool = False,
    batches: int | None = None,
) -> PruneReport:
    """Delete what the retention settings let go, `batch_size` rows per statement and at most
    `batches` statements per table (None: until done). A dry run deletes nothing."""
    found = cutoffs(settings, now)
    report = PruneReport(now, dry_run, found)
    limit = settings.retention.batch_size
    for name in tables(found):
        report.add(name, 0)
    incidents_before = found["incidents"].before
    if incidents_before is not None:
        if dry_run:
            for table, rows in (await count_incidents(db, incidents_before)).items():
                report.add(table, rows)
        else:
            try:
                deleted, more = await prune_incidents(db, incidents_before, limit, batches)
            except Exception as exc:  # one table's trouble does not keep the others
                _failed(report, "incidents", exc)
            else:
                for table, rows in deleted.items():
                    report.add(table, rows)
                report.more |= more
    for rule in simple_rules(found):
        if dry_run:
            where = rule.where
            belongs = "incident_id" in rule.table.c  # a row counted with its incident is not here
            if rule.key == "pages" and incidents_before is not None and belongs:
                where = and_(where, outlives(rule.table, incidents_before))
            report.add(rule.table.name, await count_rows(db, rule.table, where))
            continue
        try:
            rows, more = await delete_all(db, rule.table, rule.where, limit, batches)
        except Exception as exc:
            _failed(report, rule.table.name, exc)
            continue
        report.add(rule.table.name, rows)
        report.more |= more
    audit_before = found["audit_log"].before
    if audit_before is not None:
        if dry_run:
            report.add("audit_log", await count_prunable(db, audit_before))
        else:
            await _prune_audit(db, audit_before, now, limit, batches, report)
    return report


def _failed(report: PruneReport, table: str, exc: Exception) -> None:
    log.warning("pruning failed", table=table, error=str(exc))
    report.problems.append(f"{table}: {type(exc).__name__}: {exc}")


def tables(found: dict[str, Cutoff]) -> list[str]:
    """The tables these cut-offs prune, in the order a pass goes through them."""
    names = list(INCIDENT_TABLES) if found["incidents"].before is not None else []
    names += [rule.table.name for rule in simple_rules(found)]
    return names + (["audit_log"] if found["audit_log"].before is not None else [])


async def _prune_audit(
    db: Database,
    before: datetime,
    now: datetime,
    limit: int,
    batches: int | None,
    report: PruneReport,
) -> None:
    runs = 0
    while batches is None or runs < batches:
        runs += 1
        try:
            done = await prune_batch(db, before, now=now, limit=limit)
        except AuditChainBroken as exc:
            log.error("audit log not pruned", problem=str(exc))
            report.problems.append(str(exc))
            return
        report.add("audit_log", done)
        if done < limit:
            return
    report.more = True
