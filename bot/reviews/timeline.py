"""The review's timeline in words: each run asked for, started and ended, each health gate's
verdict, the incident opening and each button pressed (from the audit log), as sentences."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, tzinfo

from bot.i18n import t
from bot.model import ActionKind
from bot.reviews.facts import Acted, Facts, GateFact, Measured, RunFact
from bot.settings.gates import format_number
from bot.statuses import TONES, word

TOCSIN = "tocsin"
"""Who asks for what Tocsin does on its own (automatic rollbacks, drills)."""
_ASKED = {"deploy": "review.run.asked.deploy", "rollback": "review.run.asked.rollback"}
_FAILED = {"failed", "rolled_back"}
_PASSED = {"passed", "promoted"}
_DID: dict[str, str] = {
    ActionKind.ACK: "review.did.ack",
    ActionKind.UNACK: "review.did.unack",
    ActionKind.SILENCE: "review.did.silence",
    ActionKind.UNSILENCE: "review.did.unsilence",
    ActionKind.RESOLVE: "review.did.resolve",
    ActionKind.ESCALATE: "review.did.escalate",
    ActionKind.ROLLBACK: "review.did.rollback",
    ActionKind.CONFIRM: "review.did.confirm",
    ActionKind.APPROVE: "review.did.approve",
    ActionKind.DENY: "review.did.deny",
    ActionKind.CANCEL: "review.did.cancel",
    ActionKind.HOLD: "review.did.hold",
    ActionKind.PROMOTE: "review.did.promote",
}
"""A button pressed (audit action ``button:<action>``) as a sentence; others say `acted on`."""
_WHAT = {"run": "review.what.run", "incident": "review.what.incident"}
_OUTCOMES = {
    "success": "review.outcome.success",
    "failure": "review.outcome.failure",
    "inconclusive": "review.outcome.inconclusive",
    "error": "review.outcome.error",
}


def outcome(m: Measured, lang: str) -> str:
    """A measurement's verdict in words."""
    return t(_OUTCOMES.get(m.outcome, "review.outcome.error"), lang)


def who(name: str) -> str:
    return "Tocsin" if name == TOCSIN else name


def run_state(state: str, lang: str) -> str:
    """A run's state as the status vocabulary says it."""
    key = f"run.{state}"
    return word(key, lang) if key in TONES else state


def measured(m: Measured, lang: str) -> str:
    """What a measurement found, without words where numbers say it: ``0.25 > 0.05``."""
    if m.outcome in ("success", "failure"):
        return m.note.removesuffix(" (failed)")
    if m.outcome == "error":
        return t("review.measure.error", lang)
    if "traffic" in m.note and m.value is not None:
        return t("review.measure.low_traffic", lang, value=format_number(m.value))
    return t("review.measure.no_data", lang)


def failure(facts: Facts, run_id: int, lang: str) -> str:
    """The last failed measurement of `run_id`'s gate, as ``error_rate 0.25 > 0.05``."""
    failed = [m for m in facts.measurements if m.run_id == run_id and m.outcome == "failure"]
    return f"{failed[-1].metric} {measured(failed[-1], lang)}" if failed else ""


def events(facts: Facts, lang: str) -> list[tuple[datetime, str]]:
    """Every event of the review, in the order it happened; events of one moment in the order
    one leads to the next: an incident opens, a gate fails, a button is pressed, a run is asked
    for, starts, ends (a press and the run it asks for share their transaction's time; a press
    on a run comes after the run was asked for)."""
    found: list[tuple[datetime, int, str]] = []
    if facts.incident is not None:
        i = facts.incident
        opened = t("review.incident.opened", lang, id=i.id, tier=i.tier, title=i.title)
        found.append((i.created_at, 0, opened))
    found += [(at, 1, text) for g in facts.gates for at, text in _gate(facts, g, lang)]
    asked = {f"run:{r.id}": r.created_at for r in (facts.bad, facts.rollback) if r is not None}
    for a in facts.acted:
        on_new_run = asked.get(a.target.partition(" ")[0]) == a.at
        found.append((a.at, 4 if on_new_run else 2, acted(a, lang)))
    found += _runs(facts, lang)
    return [(at, text) for at, _rank, text in sorted(found, key=lambda e: e[:2])]


def _runs(facts: Facts, lang: str) -> Iterator[tuple[datetime, int, str]]:
    for run in (r for r in (facts.bad, facts.rollback) if r is not None):
        yield run.created_at, 3, _asked(run, lang)
        if run.started_at is not None:
            yield run.started_at, 5, t("review.run.started", lang, id=run.id, backend=run.backend)
        if run.finished_at is not None:
            state = run_state(run.state, lang)
            yield run.finished_at, 6, t("review.run.ended", lang, id=run.id, state=state)


def _asked(run: RunFact, lang: str) -> str:
    key = _ASKED.get(run.action, "review.run.asked.other")
    return t(key, lang, who=who(run.requested_by), version=run.version, id=run.id)


def _gate(facts: Facts, gate: GateFact, lang: str) -> Iterator[tuple[datetime, str]]:
    if gate.decided_at is None:
        return
    if gate.state in _FAILED:
        detail = failure(facts, gate.run_id, lang) or "-"
        yield gate.decided_at, t("review.gate.failed", lang, id=gate.run_id, detail=detail)
        return
    key = "review.gate.passed" if gate.state in _PASSED else "review.gate.undecided"
    yield gate.decided_at, t(key, lang, id=gate.run_id)


def acted(entry: Acted, lang: str) -> str:
    """An audit entry as a sentence: ``alice confirmed run #10``; never the raw entry."""
    ref, _, rest = entry.target.partition(" ")
    kind, _, number = ref.partition(":")
    what = t(_WHAT[kind], lang, id=number) if kind in _WHAT and number.isdigit() else ref
    person = who(entry.actor)
    if entry.outcome == "denied" or entry.error.startswith("auth."):
        return t("review.did.refused", lang, who=person, what=what)
    if entry.outcome != "allowed":
        return t("review.did.failed", lang, who=person, what=what)
    _button, _, value = rest.partition(" ")
    key = _DID.get(entry.action.removeprefix("button:"), "review.did.other")
    return t(key, lang, who=person, what=what, value=value)


def clock(moments: list[datetime], tz: tzinfo) -> list[str]:
    """Each moment in `tz` as ``HH:MM:SS``, with the date on the first and on each new day."""
    shown, day = [], None
    for moment in moments:
        local = moment.astimezone(tz)
        new_day = local.date() != day
        shown.append(local.strftime("%Y-%m-%d %H:%M:%S" if new_day else "%H:%M:%S"))
        day = local.date()
    return shown
