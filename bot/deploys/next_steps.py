"""The buttons of a run's card: the answers a waiting run needs, what its health gate allows,
and the next sensible step once it ended — Rollback and Retry after a failed deploy, Retry and
View review after a rolled-back or gate-failed one.

Rollback buttons carry no confirmation dialog of their own: the platform would show it before
the press reaches Tocsin, so a person without the grant would be asked to confirm something
they may not do. The press is checked first, and the rollback it asks for waits for its
requester's Confirm on its own card."""

from __future__ import annotations

from bot.deploys.ops import (
    ACTIVE,
    AWAITING_APPROVAL,
    AWAITING_CONFIRMATION,
    CANARY,
    ENDED,
    FAILED,
    QUEUED,
    SUCCEEDED,
)
from bot.deploys.outcome import is_drill, run_key
from bot.deploys.run import Run
from bot.gates.gate_run import GateRun
from bot.i18n import t
from bot.model import ActionKind, Button, ButtonStyle

RETRIED = ("run.failed", "run.rolled_back", "run.gate_failed")
"""Outcomes whose card offers to ask for the same run again."""
REVIEWED = ("run.rolled_back", "run.gate_failed", "run.succeeded", "run.failed")
"""Outcomes whose card offers the review draft, when there is one."""


def buttons(
    row: Run, gate: GateRun | None, rollback: Run | None, lang: str, *, review: bool = False
) -> tuple[Button, ...]:
    waiting = _waiting(row, lang)
    if waiting or row.state not in ENDED:
        return waiting
    found: dict[ActionKind, Button] = {}
    for button in (*_after_gate(row, gate, rollback, lang), *_ended(row, gate, rollback, lang)):
        found.setdefault(button.action, button)
    key = run_key(row, gate, rollback)
    if review and key in REVIEWED:
        found.setdefault(ActionKind.REVIEW, Button(t("button.review", lang), ActionKind.REVIEW))
    return tuple(found.values())


def _waiting(row: Run, lang: str) -> tuple[Button, ...]:
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


def _rollback(lang: str) -> Button:
    return Button(t("button.rollback", lang), ActionKind.ROLLBACK, style=ButtonStyle.DANGER)


def _after_gate(
    row: Run, gate: GateRun | None, rollback: Run | None, lang: str
) -> tuple[Button, ...]:
    if gate is None or row.action != "deploy" or row.state != SUCCEEDED:
        return ()
    if gate.state == "countdown":
        hold = Button(t("button.hold", lang), ActionKind.HOLD, style=ButtonStyle.PRIMARY)
        return (hold, _rollback(lang))
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
        return (promote, _rollback(lang))
    if gate.state in ("failed", "inconclusive", "held"):
        return (_rollback(lang),)
    undone = rollback is not None and rollback.state in ENDED and rollback.state != SUCCEEDED
    if gate.state == "rolled_back" and undone:
        return (_rollback(lang),)  # the rollback did not happen: it may be asked for again
    return ()


def _ended(row: Run, gate: GateRun | None, rollback: Run | None, lang: str) -> tuple[Button, ...]:
    if row.dry_run or is_drill(row):
        return ()
    found = []
    if row.action == "deploy" and row.state == FAILED and row.previous:
        found.append(_rollback(lang))
    counting = gate is not None and gate.state == "countdown"  # Hold or Rollback come first
    if retryable(row) and not counting and run_key(row, gate, rollback) in RETRIED:
        found.append(Button(t("button.retry", lang), ActionKind.RETRY, style=ButtonStyle.PRIMARY))
    return tuple(found)


def retryable(row: Run) -> bool:
    """A run that may be asked for again as it was: not a canary's removal or promotion (the
    canary they follow decides those), not a drill, not a dry run."""
    return row.parent_id is None and not row.dry_run and not is_drill(row)


__all__ = ["buttons", "retryable"]
