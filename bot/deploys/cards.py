"""The card of a run, edited in place as it moves: asked → confirmed → approved → running →
succeeded / failed / cancelled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.deploys.ops import (
    ACTIVE,
    AWAITING_APPROVAL,
    AWAITING_CONFIRMATION,
    CANARY,
    QUEUED,
    SUCCEEDED,
)
from bot.deploys.run import Run
from bot.gates.gate_run import GateRun
from bot.i18n import t
from bot.model import ActionKind, Button, ButtonStyle, Card, Field

STATUS = {
    "awaiting_confirmation": "triggered",
    "awaiting_approval": "triggered",
    "queued": "triggered",
    "starting": "acknowledged",
    "running": "acknowledged",
    "cancelling": "acknowledged",
}


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def run_card(
    row: Run,
    approvals: Sequence[Any],
    needed: int,
    lang: str,
    gate: GateRun | None = None,
    gate_lines: Sequence[str] = (),
) -> Card:
    versions = f"{row.previous or '?'} → {row.version}"
    fields = [
        Field(t("card.service", lang), row.service),
        Field(t("card.environment", lang), row.environment),
        Field(t("deploy.card.versions", lang), versions),
        Field(t("card.status", lang), t(f"deploy.state.{row.state}", lang)),
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
        fields.append(Field(t("deploy.card.started", lang), when(row.started_at)))
    if row.finished_at:
        fields.append(Field(t("deploy.card.finished", lang), when(row.finished_at)))
    if row.progress is not None and row.state in ACTIVE:
        fields.append(Field(t("deploy.card.progress", lang), f"{row.progress}%"))
    if gate is not None:
        fields.append(Field(t("gate.title", lang), _gate_state(row, gate, lang)))
    body = "\n".join(p for p in (row.message, _tail(row.log_tail), *gate_lines) if p)
    if row.url:
        body = f"{body}\n{t('deploy.card.log', lang, url=row.url)}".strip()
    if row.reason:
        body = f"{row.reason}\n{body}".strip()
    title_key = "deploy.card.title_dry" if row.dry_run else f"deploy.card.title.{row.action}"
    return Card(
        ref=f"run:{row.id}",
        title=t(
            title_key,
            lang,
            service=row.service,
            environment=row.environment,
            version=row.version,
            action=row.action,
        ),
        tier=None,
        status=STATUS.get(row.state, "resolved"),
        fields=tuple(fields),
        body=body,
        buttons=_buttons(row, lang) + _gate_buttons(row, gate, lang),
        footer=t("deploy.card.footer", lang, id=row.id),
    )


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


def _gate_state(row: Run, gate: GateRun, lang: str) -> str:
    key = f"gate.state.{gate.state}"
    if row.stage == CANARY and gate.state in ("passed", "rolled_back"):
        key = f"gate.state.canary_{gate.state}"
    done = gate.promote_run_id or gate.rollback_run_id
    return t(key, lang, until=when(gate.due_at), run=done)


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()][-5:]
    return "\n".join(lines)


def _buttons(row: Run, lang: str) -> tuple[Button, ...]:
    cancel = Button(t("button.cancel", lang), ActionKind.CANCEL)
    if row.state == AWAITING_CONFIRMATION:
        confirm = Button(t("button.confirm", lang), ActionKind.CONFIRM, style=ButtonStyle.PRIMARY)
        return (confirm, cancel)
    if row.state == AWAITING_APPROVAL:
        return (
            Button(t("button.approve", lang), ActionKind.APPROVE, style=ButtonStyle.PRIMARY),
            Button(t("button.deny", lang), ActionKind.DENY, style=ButtonStyle.DANGER),
            cancel,
        )
    if row.state == QUEUED or row.state in ACTIVE:
        return (cancel,)
    return ()


def _gate_buttons(row: Run, gate: GateRun | None, lang: str) -> tuple[Button, ...]:
    if gate is None or row.action != "deploy":
        return ()
    ask = "button.rollback.canary_confirm" if row.stage == CANARY else "button.rollback.confirm"
    rollback = Button(
        t("button.rollback", lang),
        ActionKind.ROLLBACK,
        style=ButtonStyle.DANGER,
        confirm=t(
            ask,
            lang,
            service=row.service,
            environment=row.environment,
            previous=row.previous or "?",
        ),
    )
    if gate.state == "countdown":
        return (
            Button(t("button.hold", lang), ActionKind.HOLD, style=ButtonStyle.PRIMARY),
            rollback,
        )
    if row.stage == CANARY and gate.state in ("passed", "inconclusive"):
        promote = Button(
            t("button.promote", lang),
            ActionKind.PROMOTE,
            style=ButtonStyle.PRIMARY,
            confirm=t(
                "button.promote.confirm",
                lang,
                service=row.service,
                environment=row.environment,
                version=row.version,
            ),
        )
        return (promote, rollback)
    if gate.state in ("failed", "inconclusive", "held"):
        return (rollback,)
    return ()


def recent_line(row: Any, lang: str) -> str:
    """One line about a run for an incident's card."""
    state = t(f"deploy.state.{row.state}", lang)
    mark = " ✓" if row.verified else ""
    if row.stage == CANARY and row.action == "deploy":
        mark += f" · canary {row.canary_weight}%"
    moment = (row.finished_at or row.created_at).strftime("%H:%M UTC")
    return (
        f"#{row.id} {row.action} {row.previous or '?'} → {row.version} · {state}{mark} · {moment}"
    )


__all__ = ["SUCCEEDED", "recent_line", "run_card"]
