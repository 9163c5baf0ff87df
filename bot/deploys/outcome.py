"""A run's honest outcome: its status key in the one vocabulary (`bot.statuses`) and the path it
took in words, from the run and what followed it — its health gate and the rollback that gate
(or a person) started. A deploy that went out and was then rolled back reads "rolled back",
never "succeeded".

    waiting / active                             → run.<state>
    succeeded, no gate                           → run.succeeded
    succeeded, gate measuring                    → run.verifying
    succeeded, gate passed (or promoted)         → run.verified
    succeeded, gate could not tell               → run.unverified
    succeeded, gate failed, no rollback started  → run.gate_failed (countdown, held, manual, guard)
    succeeded, gate failed, rollback on its way  → run.rolling_back
    succeeded, gate failed, rollback succeeded   → run.rolled_back
    succeeded, gate failed, rollback ended badly → run.gate_failed
    succeeded, then rolled back by anyone         → run.rolling_back / run.rolled_back
    failed · cancelled · denied · expired        → run.<state>

A drill (a run with the ``drill`` parameter) reads in drill words: caught and rolled back is a
pass, anything else that ended is a failure.
"""

from __future__ import annotations

from datetime import UTC

from bot.deploys.moments import Zone, clock_time
from bot.deploys.ops import ACTIVE, ENDED, SUCCEEDED, WAITING
from bot.deploys.run import Run
from bot.gates.gate_run import GateRun
from bot.i18n import t

DRILL_PARAM = "drill"
GATE_PASSED = ("passed", "promoted")
GATE_FAILED = ("failed", "countdown", "held", "rolled_back")
AUTOMATIC = "tocsin"
"""Who asks for the runs Tocsin starts on its own."""


def is_drill(run: Run) -> bool:
    return DRILL_PARAM in run.params


def run_key(run: Run, gate: GateRun | None, rollback: Run | None) -> str:
    """The run's status key, drills included."""
    key = _run_key(run, gate, rollback)
    return drill_key(key) if is_drill(run) else key


def _run_key(run: Run, gate: GateRun | None, rollback: Run | None) -> str:
    if run.state != SUCCEEDED:
        return f"run.{run.state}"
    if rollback is not None and rollback.state == SUCCEEDED:
        return "run.rolled_back"
    if rollback is not None and rollback.state in ACTIVE:
        return "run.rolling_back"
    if gate is None:
        return "run.succeeded"
    if gate.state == "measuring":
        return "run.verifying"
    if gate.state in GATE_PASSED:
        return "run.verified"
    if gate.state == "inconclusive":
        return "run.unverified"
    if gate.state == "rolled_back":
        if rollback is None or rollback.state in (*WAITING, *ACTIVE):
            return "run.rolling_back"
        if rollback.state == SUCCEEDED:
            return "run.rolled_back"
    return "run.gate_failed"


def drill_key(key: str) -> str:
    """A run's key in drill words: the gate caught the bad release and it was rolled back (a
    pass), the drill ended any other way (a failure), or it is still on its way."""
    if key == "run.rolled_back":
        return "drill.passed"
    ended = {f"run.{state}" for state in ENDED}
    if key in ended | {"run.verified", "run.unverified", "run.gate_failed"}:
        return "drill.failed"
    return "drill.running"


def ended_well(run: Run, gate: GateRun | None, rollback: Run | None) -> bool:
    """The run needs nobody: verified, or a plain success with no gate to judge it."""
    return _run_key(run, gate, rollback) in ("run.succeeded", "run.verified")


def outcome_path(
    run: Run, gate: GateRun | None, rollback: Run | None, lang: str, tz: Zone = UTC
) -> str:
    """The path the run took, e.g. "Succeeded → health gate failed → rolled back to v1.4.1
    (automatically)"."""
    steps = [t(f"deploy.state.{run.state}", lang)]
    if run.state == SUCCEEDED and gate is not None:
        steps += _gate_steps(gate, rollback, lang, tz)
    if run.state == SUCCEEDED and rollback is not None and not _gate_led(gate, rollback):
        steps.append(_rollback_step(rollback, lang))
    return " → ".join(steps)


def _gate_led(gate: GateRun | None, rollback: Run) -> bool:
    """The gate's steps already tell of `rollback` (its own, automatic or by hand)."""
    return gate is not None and gate.rollback_run_id == rollback.id


def _gate_steps(gate: GateRun, rollback: Run | None, lang: str, tz: Zone) -> list[str]:
    until = clock_time(gate.due_at, lang, tz) if gate.due_at else "-"
    if gate.state == "measuring":
        return [t("deploy.outcome.gate_watching", lang, until=until)]
    if gate.state == "passed":
        return [t("deploy.outcome.gate_passed", lang)]
    if gate.state == "promoted":
        return [
            t("deploy.outcome.gate_passed", lang),
            t("deploy.outcome.promoted", lang, run=gate.promote_run_id),
        ]
    if gate.state == "inconclusive":
        return [t("deploy.outcome.gate_unsure", lang)]
    failed = t("deploy.outcome.gate_failed", lang)
    if gate.state == "countdown":
        return [failed, t("deploy.outcome.countdown", lang, until=until)]
    if gate.state in ("held", "failed"):
        return [failed, t("deploy.outcome.waiting_decision", lang)]
    if rollback is None:
        return [failed, t("deploy.outcome.rolling_back_unknown", lang, run=gate.rollback_run_id)]
    return [failed, _rollback_step(rollback, lang)]


def _rollback_step(rollback: Run, lang: str) -> str:
    params = {"version": rollback.version, "run": rollback.id}
    if rollback.state in (*WAITING, *ACTIVE):
        return t("deploy.outcome.rolling_back", lang, **params)
    if rollback.state == SUCCEEDED:
        who = (
            t("deploy.outcome.automatically", lang)
            if rollback.requested_by == AUTOMATIC
            else t("deploy.outcome.by", lang, user=rollback.requested_by)
        )
        return t("deploy.outcome.rolled_back", lang, who=who, **params)
    state = t(f"deploy.state.{rollback.state}", lang)
    return t("deploy.outcome.rollback_ended", lang, state=state, **params)


__all__ = ["drill_key", "ended_well", "is_drill", "outcome_path", "run_key"]
