"""The root-cause review draft written after a rollback: what was deployed, what the health gate
measured, who did what and when, and a follow-up checklist, in Markdown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.settings import Settings
from bot.store.tables import audit_log, gate_measurements, gate_runs, incidents, runs


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


async def draft(conn: AsyncConnection, settings: Settings, rollback_id: int) -> str:
    """The draft for a rollback run: the release it undid, its gate, the timeline."""
    rollback = (await conn.execute(select(runs).where(runs.c.id == rollback_id))).one()
    undone = (
        runs.c.id == rollback.parent_id  # a canary taken away
        if rollback.parent_id is not None
        else (runs.c.action == "deploy") & (runs.c.version == rollback.previous)
    )
    bad = (
        await conn.execute(
            select(runs)
            .where(
                runs.c.service == rollback.service,
                runs.c.environment == rollback.environment,
                undone,
                runs.c.id < rollback.id,
            )
            .order_by(runs.c.id.desc())
            .limit(1)
        )
    ).first()
    what = "Rollback" if rollback.stage != "canary" else "Removal of the canary"
    related = [r for r in (bad, rollback) if r is not None]
    owner = (
        settings.services[rollback.service].owner if rollback.service in settings.services else ""
    )
    events: list[tuple[datetime, str]] = []
    for run in related:
        label = f"run #{run.id} ({run.action} {run.previous or '?'} → {run.version})"
        events.append(
            (run.created_at, f"{label} asked by {run.requested_by}: {run.reason}".strip())
        )
        if run.started_at:
            events.append((run.started_at, f"{label} started on {run.backend}"))
        if run.finished_at:
            events.append((run.finished_at, f"{label} ended {run.state}: {run.message}"))
    gate_lines: list[str] = []
    ids = [r.id for r in related]
    for gate in (await conn.execute(select(gate_runs).where(gate_runs.c.run_id.in_(ids)))).all():
        taken = await conn.execute(
            select(gate_measurements)
            .where(gate_measurements.c.gate_run_id == gate.id)
            .order_by(gate_measurements.c.id)
        )
        for m in taken:
            line = f"{m.metric} = {_number(m.value)} → {m.outcome} ({m.note})"
            gate_lines.append(f"| {_when(m.at)} | run #{gate.run_id} | {line} |")
            events.append((m.at, f"gate of run #{gate.run_id}: {line}"))
        if gate.decided_at:
            events.append(
                (gate.decided_at, f"gate of run #{gate.run_id} {gate.state}: {gate.note}")
            )
    targets = [f"run:{i}" for i in ids] + [f"incident:{rollback.incident_id}"]
    audit = await conn.execute(
        select(audit_log)
        .where(
            or_(
                *(audit_log.c.target.like(f"{t} %") for t in targets),
                *(audit_log.c.target == t for t in targets),
            )
        )
        .order_by(audit_log.c.id)
    )
    for entry in audit:
        events.append((entry.at, f"{entry.actor}: {entry.action} {entry.target} ({entry.outcome})"))
    incident = None
    if rollback.incident_id:
        incident = (
            await conn.execute(select(incidents).where(incidents.c.id == rollback.incident_id))
        ).first()
        if incident is not None:
            events.append(
                (incident.created_at, f"incident #{incident.id} opened: {incident.title}")
            )
    lines = [
        f"# {what} of {rollback.service} in {rollback.environment}: "
        f"{rollback.previous or '?'} → {rollback.version}",
        "",
        "*Draft written by Tocsin; edit it for the review.*",
        "",
        "## Summary",
        "",
        f"- Service: **{rollback.service}** ({rollback.environment}), owner: {owner or '-'}",
        f"- Bad release: **{rollback.previous or '?'}**"
        + (f" (run #{bad.id}, asked by {bad.requested_by})" if bad is not None else "")
        + (
            f", on a canary at {bad.canary_weight} %"
            if bad is not None and bad.canary_weight
            else ""
        ),
        f"- Restored: **{rollback.version}** (run #{rollback.id}, {rollback.state})",
        f"- Why: {rollback.reason or '-'}",
    ]
    if incident is not None:
        lines.append(f"- Incident: #{incident.id} [{incident.tier}] {incident.title}")
    if bad is not None and bad.finished_at and rollback.finished_at:
        lines.append(
            f"- Time to restore (bad release live → rolled back): "
            f"{_duration(bad.finished_at, rollback.finished_at)}"
        )
    if gate_lines:
        lines += [
            "",
            "## Health gate measurements",
            "",
            "| time | run | measurement |",
            "|---|---|---|",
            *gate_lines,
        ]
    lines += ["", "## Timeline", ""]
    lines += [f"- {_when(at)} — {text}" for at, text in sorted(events, key=lambda e: e[0])]
    lines += [
        "",
        "## Follow-up",
        "",
        f"- [ ] Find the root cause of the failure in {rollback.previous or 'the release'}",
        "- [ ] Add a test or a check that would have caught it before production",
        "- [ ] Check the health gate's thresholds caught it early enough",
        "- [ ] Decide when and how to ship the fix",
        "",
    ]
    return "\n".join(lines)


def _number(value: Any) -> str:
    return "no data" if value is None else f"{value:.4g}"


def _duration(start: datetime, end: datetime) -> str:
    seconds = int((end - start).total_seconds())
    return f"{seconds // 60} min {seconds % 60} s"
