"""The card of a run, edited in place as it moves: asked → confirmed → approved → running →
ended, and then as its health gate judges it and its rollback ends. Its badge is the run's
honest outcome (`bot.deploys.outcome`): a release the gate failed never reads as a success."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.deploys.messages import shown
from bot.deploys.moments import Zone, clock_time, stamp
from bot.deploys.next_steps import buttons
from bot.deploys.ops import ACTIVE, CANARY, SUCCEEDED
from bot.deploys.outcome import outcome_path, run_key
from bot.deploys.run import Run
from bot.gates.gate_run import GateRun
from bot.i18n import t
from bot.model import Card, Field
from bot.statuses import badge


def when(moment: datetime | None, lang: str = "en", tz: Zone = UTC) -> str:
    return stamp(moment, lang, tz)


def run_card(
    row: Run,
    approvals: Sequence[Any],
    needed: int,
    lang: str,
    gate: GateRun | None = None,
    gate_lines: Sequence[str] = (),
    *,
    rollback: Run | None = None,
    review: bool = False,
    tz: Zone = UTC,
) -> Card:
    """`rollback`: the run that rolled this one back (its gate's), `review`: a review draft of
    that rollback exists; times are shown in `tz` (a zone or its IANA name)."""
    key = run_key(row, gate, rollback)
    fields = [
        Field(t("card.service", lang), row.service),
        Field(t("card.environment", lang), row.environment),
        Field(t("deploy.card.versions", lang), versions(row, lang)),
        Field(t("card.status", lang), badge(key, lang).word),
        Field(t("deploy.card.outcome", lang), outcome_path(row, gate, rollback, lang, tz)),
        Field(t("deploy.card.requested_by", lang), row.requested_by),
        Field(t("deploy.card.backend", lang), row.backend),
    ]
    approved = [a.user_id for a in approvals if a.decision == "approve"]
    if needed or approved:
        fields.append(
            Field(
                t("deploy.card.approvals", lang),
                f"{len(approved)}/{needed} {', '.join(approved)}".strip(),
            )
        )
    stage = _stage(row, lang)
    if stage:
        fields.append(Field(t("deploy.card.stage", lang), stage))
    if row.params:
        fields.append(
            Field(
                t("deploy.card.params", lang), " ".join(f"{k}={v}" for k, v in row.params.items())
            )
        )
    if row.started_at:
        fields.append(Field(t("deploy.card.started", lang), when(row.started_at, lang, tz)))
    if row.finished_at:
        fields.append(Field(t("deploy.card.finished", lang), when(row.finished_at, lang, tz)))
    if row.progress is not None and row.state in ACTIVE:
        fields.append(Field(t("deploy.card.progress", lang), f"{row.progress}%"))
    if gate is not None:
        fields.append(Field(t("gate.title", lang), _gate_state(row, gate, lang, tz)))
    message = shown(row.message, lang)
    body = "\n".join(p for p in (message, _tail(row.log_tail), *gate_lines) if p)
    if row.url:
        body = f"{body}\n{t('deploy.card.log', lang, url=row.url)}".strip()
    if row.reason:
        body = f"{shown(row.reason, lang)}\n{body}".strip()
    title_key = "deploy.card.title_dry" if row.dry_run else f"deploy.card.title.{row.action}"
    return Card(
        ref=f"run:{row.id}",
        title=t(
            title_key,
            lang,
            service=row.service,
            environment=row.environment,
            version=row.version,
            action=t(f"deploy.action.{row.action}", lang),
        ),
        tier=None,
        status=key,
        fields=tuple(fields),
        body=body,
        buttons=buttons(row, gate, rollback, lang, review=review),
        footer=t("deploy.card.footer", lang, id=row.id),
        badge=badge(key, lang),
    )


def versions(row: Any, lang: str) -> str:
    """``v1.4.1 → v1.4.2``, or the new version and why there is no old one."""
    if row.previous:
        return f"{row.previous} → {row.version}"
    key = "deploy.versions.first" if row.action == "deploy" else "deploy.versions.unknown"
    return t(key, lang, version=row.version)


def _stage(row: Run, lang: str) -> str:
    """What part of the service the run is about: a canary, a canary's removal or promotion
    ("" for a plain deploy or rollback)."""
    if row.stage == CANARY and row.action == "deploy":
        previous = row.previous or "?"
        return t("deploy.stage.canary", lang, weight=row.canary_weight, previous=previous)
    if row.stage == CANARY:
        return t("deploy.stage.canary_rollback", lang, parent=row.parent_id, version=row.version)
    if row.parent_id is not None and row.action == "deploy":
        return t("deploy.stage.promotion", lang, parent=row.parent_id)
    return ""


def _gate_state(row: Run, gate: GateRun, lang: str, tz: Zone) -> str:
    key = f"gate.state.{gate.state}"
    if row.stage == CANARY and gate.state in ("passed", "rolled_back"):
        key = f"gate.state.canary_{gate.state}"
    done = gate.promote_run_id or gate.rollback_run_id
    return t(key, lang, until=when(gate.due_at, lang, tz), run=done)


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()][-5:]
    return "\n".join(lines)


def recent_line(row: Any, lang: str, *, tz: Zone = UTC, status: str | None = None) -> str:
    """One line about a run for an incident's card or /history: number, what, versions, its
    status word, who and when (HH:MM in `tz`). `status` is the run's honest key
    (`bot.deploys.ledger.outcomes`); without it the run's own state and verification say it.
    `tz`: the reader's zone, or its IANA name."""
    key = status or _own_key(row)
    words = t(f"status.{key}", lang)
    if row.stage == CANARY and row.action == "deploy":
        words += " · " + t("deploy.recent.canary", lang, weight=row.canary_weight)
    return t(
        "deploy.recent.line",
        lang,
        id=row.id,
        action=t(f"deploy.action.{row.action}", lang),
        versions=versions(row, lang),
        status=words,
        user=row.requested_by,
        time=clock_time(row.finished_at or row.created_at, lang, tz),
    )


def _own_key(row: Any) -> str:
    if row.state == SUCCEEDED:
        return "run.verified" if row.verified else "run.succeeded"
    return f"run.{row.state}"


__all__ = ["recent_line", "run_card", "versions"]
