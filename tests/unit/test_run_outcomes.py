"""A run's honest outcome, as pure functions: its status key and badge for every path (state ×
health gate × rollback), the path in words, the buttons of an ended card, its lines for
/history and incident cards, and its texts in Chinese without English words."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.demo_deploy import canary_replicas, progress
from bot.deploys.cards import recent_line, run_card
from bot.deploys.messages import said, shown
from bot.deploys.outcome import outcome_path, run_key
from bot.deploys.run import Run
from bot.deploys.service import describe
from bot.gates.gate_run import GateRun
from bot.model import ActionKind, Tone
from bot.statuses import TONES
from tests.unit.test_run_machine import START, fresh

ENDED_AT = START + timedelta(minutes=10)


def shipped(state: str = "succeeded", **also: object) -> Run:
    values: dict[str, object] = {"started_at": START, "finished_at": ENDED_AT, "due_at": None}
    return fresh(state, **{**values, **also})


def gate(state: str, rollback: int | None = None) -> GateRun:
    return GateRun(
        id=1,
        run_id=7,
        service="orders",
        environment="prod",
        version="v1.4.2",
        after_rollback=False,
        mode="auto",
        state=state,
        started_at=ENDED_AT,
        due_at=ENDED_AT + timedelta(minutes=5) if state in ("measuring", "countdown") else None,
        decided_at=None,
        rollback_run_id=rollback,
        promote_run_id=None,
        note="",
    )


def rollback(state: str, by: str = "tocsin") -> Run:
    return replace(
        shipped(state),
        id=8,
        action="rollback",
        version="v1.4.1",
        previous="v1.4.2",
        requested_by=by,
    )


PATHS = [
    # (run state, gate state, rollback state) → key, tone
    ("awaiting_confirmation", None, None, "run.awaiting_confirmation", Tone.WAITING),
    ("awaiting_approval", None, None, "run.awaiting_approval", Tone.WAITING),
    ("queued", None, None, "run.queued", Tone.WORKING),
    ("starting", None, None, "run.starting", Tone.WORKING),
    ("running", None, None, "run.running", Tone.WORKING),
    ("cancelling", None, None, "run.cancelling", Tone.WORKING),
    ("succeeded", None, None, "run.succeeded", Tone.GOOD),
    ("succeeded", "measuring", None, "run.verifying", Tone.WORKING),
    ("succeeded", "passed", None, "run.verified", Tone.GOOD),
    ("succeeded", "promoted", None, "run.verified", Tone.GOOD),
    ("succeeded", "inconclusive", None, "run.unverified", Tone.WAITING),
    ("succeeded", "failed", None, "run.gate_failed", Tone.ALERT),
    ("succeeded", "countdown", None, "run.gate_failed", Tone.ALERT),
    ("succeeded", "held", None, "run.gate_failed", Tone.ALERT),
    ("succeeded", "rolled_back", "awaiting_confirmation", "run.rolling_back", Tone.ALERT),
    ("succeeded", "rolled_back", "queued", "run.rolling_back", Tone.ALERT),
    ("succeeded", "rolled_back", "running", "run.rolling_back", Tone.ALERT),
    ("succeeded", "rolled_back", "succeeded", "run.rolled_back", Tone.BAD),
    ("succeeded", "rolled_back", "failed", "run.gate_failed", Tone.ALERT),
    ("succeeded", "rolled_back", "cancelled", "run.gate_failed", Tone.ALERT),
    ("succeeded", "rolled_back", "expired", "run.gate_failed", Tone.ALERT),
    ("failed", None, None, "run.failed", Tone.BAD),
    ("cancelled", None, None, "run.cancelled", Tone.MUTED),
    ("denied", None, None, "run.denied", Tone.BAD),
    ("expired", None, None, "run.expired", Tone.MUTED),
]


@pytest.mark.parametrize(("state", "gate_state", "rollback_state", "key", "tone"), PATHS)
def test_every_path_of_a_run_has_one_honest_key_and_badge(
    state: str, gate_state: str | None, rollback_state: str | None, key: str, tone: Tone
) -> None:
    undo = rollback(rollback_state) if rollback_state else None
    judged = gate(gate_state, undo.id if undo else None) if gate_state else None
    run = shipped(state) if state in ("succeeded", "failed", "cancelled") else fresh(state)
    assert run_key(run, judged, undo) == key
    card = run_card(run, [], 0, "en", judged, rollback=undo)
    assert card.status == key and card.badge is not None and card.badge.tone is tone
    assert TONES[key] is tone


@pytest.mark.parametrize(
    ("gate_state", "rollback_state", "key"),
    [
        ("measuring", None, "drill.running"),
        ("rolled_back", "running", "drill.running"),
        ("rolled_back", "succeeded", "drill.passed"),
        ("rolled_back", "failed", "drill.failed"),
        ("passed", None, "drill.failed"),  # the gate missed the bad release
    ],
)
def test_a_drill_reads_in_drill_words(
    gate_state: str, rollback_state: str | None, key: str
) -> None:
    undo = rollback(rollback_state) if rollback_state else None
    drill = shipped(params={"drill": "3"})
    assert run_key(drill, gate(gate_state, 8 if undo else None), undo) == key


def test_a_bad_release_never_reads_as_a_success() -> None:
    run, judged = shipped(), gate("rolled_back", 8)
    card = run_card(run, [], 0, "en", judged, rollback=rollback("succeeded"))
    shown = dict((f.label, f.value) for f in card.fields)
    assert card.badge is not None and card.badge.word == "Rolled back"
    assert shown["Status"] == "Rolled back"
    assert shown["Outcome"] == (
        "Succeeded → health gate failed → rolled back to v1.4.1 (automatically)"
    )
    assert "Succeeded" not in card.badge.word
    by_hand = outcome_path(run, judged, rollback("succeeded", by="alice"), "en")
    assert by_hand.endswith("rolled back to v1.4.1 (by alice)")
    zh = outcome_path(run, judged, rollback("succeeded"), "zh")
    assert zh == "成功 → 健康检查未通过 → 已回滚到 v1.4.1（自动）"
    going = outcome_path(run, judged, rollback("running"), "en")
    assert going.endswith("health gate failed → rolling back to v1.4.1 (run #8)")
    waiting = outcome_path(run, gate("held"), None, "en")
    assert waiting.endswith("health gate failed → waiting for a decision")


def actions(card_buttons: tuple[object, ...]) -> list[ActionKind]:
    return [b.action for b in card_buttons]  # type: ignore[attr-defined]


def test_ended_cards_offer_the_next_sensible_step() -> None:
    failed = run_card(shipped("failed"), [], 0, "en")
    assert actions(failed.buttons) == [ActionKind.ROLLBACK, ActionKind.RETRY]
    assert all(b.confirm is None for b in failed.buttons)  # the grant is checked first
    first = run_card(shipped("failed", previous=""), [], 0, "en")
    assert actions(first.buttons) == [ActionKind.RETRY]  # nothing known to roll back to

    rolled = run_card(
        shipped(), [], 0, "en", gate("rolled_back", 8), rollback=rollback("succeeded"), review=True
    )
    assert actions(rolled.buttons) == [ActionKind.RETRY, ActionKind.REVIEW]
    unreviewed = run_card(
        shipped(), [], 0, "en", gate("rolled_back", 8), rollback=rollback("succeeded")
    )
    assert actions(unreviewed.buttons) == [ActionKind.RETRY]

    held = run_card(shipped(), [], 0, "en", gate("held"))
    assert actions(held.buttons) == [ActionKind.ROLLBACK, ActionKind.RETRY]
    counting = run_card(shipped(), [], 0, "en", gate("countdown"))
    assert actions(counting.buttons) == [ActionKind.HOLD, ActionKind.ROLLBACK]
    assert all(b.confirm is None for b in counting.buttons)
    lapsed = run_card(shipped(), [], 0, "en", gate("rolled_back", 8), rollback=rollback("expired"))
    assert actions(lapsed.buttons) == [ActionKind.ROLLBACK, ActionKind.RETRY]

    assert run_card(shipped(), [], 0, "en", gate("passed")).buttons == ()
    assert run_card(shipped(), [], 0, "en").buttons == ()
    drill = run_card(shipped("failed", params={"drill": "3"}), [], 0, "en")
    assert drill.buttons == ()  # a drill is rehearsed with /drill, not retried from its card


def test_recent_line_says_who_when_and_a_first_deploy_in_the_readers_zone() -> None:
    run = shipped(requested_by="bob", finished_at=datetime(2026, 12, 6, 6, 5, tzinfo=UTC))
    assert recent_line(run, "en") == "#7 deploy v1.4.1 → v1.4.2 · Succeeded · bob · 06:05 UTC"
    shanghai = recent_line(run, "zh", tz=ZoneInfo("Asia/Shanghai"), status="run.rolled_back")
    assert shanghai == "#7 部署 v1.4.1 → v1.4.2 · 已回滚 · bob · 14:05（北京时间）"
    assert recent_line(run, "en", tz="Asia/Shanghai").endswith("14:05 CST")
    first = recent_line(replace(run, previous=""), "en")
    assert "v1.4.2 (first deploy)" in first and "?" not in first
    assert "v1.4.2（首次发布）" in recent_line(replace(run, previous=""), "zh")
    canary = recent_line(replace(run, stage="canary", canary_weight=20), "zh")
    assert "金丝雀 20%" in canary


LATIN = re.compile(r"[A-Za-z][A-Za-z_-]*")


def english_words(text: str, *allowed: str) -> set[str]:
    """Latin words in `text` other than the names, versions and ids in `allowed`."""
    for name in sorted(allowed, key=len, reverse=True):
        text = text.replace(name, " ")
    return set(LATIN.findall(text))


NAMES = ("orders", "prod", "v1.4.2", "v1.4.1", "alice", "tocsin", "fake", "console:ops")


@pytest.mark.parametrize("state", [state for state, *_ in PATHS])
def test_run_cards_in_chinese_have_no_english_words(state: str) -> None:
    ended = state in ("succeeded", "failed", "cancelled")
    for gate_state, undo in [(None, None), ("measuring", None), ("rolled_back", "succeeded")]:
        if not ended and gate_state:
            continue
        back = rollback(undo) if undo else None
        run = shipped(state) if ended else fresh(state)
        card = run_card(
            run, [], 1, "zh", gate(gate_state, 8) if gate_state else None, rollback=back
        )
        words = [card.title, card.footer, *(f"{f.label} {f.value}" for f in card.fields)]
        words += [b.label for b in card.buttons]
        assert english_words("\n".join(words), *NAMES) == set(), words


def test_what_a_run_request_says_in_chinese_has_no_english_words() -> None:
    asked = describe(replace(fresh(), id=8), "zh")
    assert asked.startswith("任务 #8：部署 orders v1.4.1 → v1.4.2")
    assert english_words(asked, *NAMES) == set()
    back = describe(replace(rollback("awaiting_confirmation"), previous=""), "zh")
    assert "回滚" in back and english_words(back, *NAMES) == set()


def test_the_demo_canary_says_how_many_replicas_its_weight_is() -> None:
    assert progress("deploy", "v3.2.1-bad", "canary", 20) == [
        "replica 1/5 updated to v3.2.1-bad (canary 20 %)"
    ]
    assert canary_replicas(25) == (4, 1) and canary_replicas(50) == (2, 1)
    assert len(progress("deploy", "v1.4.2", "", 0)) == 3
    for weight in range(1, 100):
        total, share = canary_replicas(weight)
        assert abs(share / total * 100 - weight) <= 5  # as near as twenty replicas allow


def test_the_engines_own_words_on_a_run_are_shown_in_the_readers_language() -> None:
    denied = replace(fresh("denied"), message=said("deploy.msg.denied", user="dave"))
    assert denied.message == "denied by dave"  # the ledger keeps English
    card = run_card(denied, [], 1, "zh")
    assert card.body == "已被 dave 拒绝"
    assert run_card(denied, [], 1, "en").body == "denied by dave"
    gated = replace(
        rollback("running"),
        reason=said("deploy.reason.gate", id=7, why="error_rate: 0.3 > 0.05"),
        message="memory: running",  # a backend's own words stay as they are
    )
    assert run_card(gated, [], 0, "zh").body == (
        "任务 #7 的健康检查：error_rate: 0.3 > 0.05\nmemory: running"
    )
    assert shown("locked by alice: promo day", "zh") == "已被 alice 锁定：promo day"
    assert shown("something else", "zh") == "something else"


def test_a_gates_notes_are_shown_in_the_readers_language() -> None:
    guard = said("gate.note.irreversible", note="", id=3, version="v4")
    note = f"error_rate: 0.3 > 0.05 (failed){guard}"
    assert note.endswith("— run #3 (v4) carries an irreversible migration: roll back by hand")
    assert shown(note, "zh") == (
        "error_rate: 0.3 > 0.05（未通过） — 任务 #3（v4）含不可逆的数据库迁移：请手动回滚"
    )
    two = "error_rate: 0.3 > 0.05 (failed); latency: traffic 0.2 < 1, value 0.4"
    assert shown(two, "zh") == "error_rate: 0.3 > 0.05（未通过）；latency: 流量 0.2 < 1，值 0.4"
