"""Reviews of rollbacks: a card made from the stored facts in each reader's language, with the
health gate's measurements, a timeline in words from the real audit rows and a checklist; a
drill's rollback gets a drill report; `tocsin incident export` writes it as Markdown or text."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.cli import main
from bot.clock import FakeClock
from bot.model import ActionKind, Card, Tone
from bot.reviews import render, review_ref
from bot.reviews.facts import Acted
from bot.reviews.timeline import acted
from bot.store.db import Database
from bot.store.tables import drills, rca_drafts
from tests.support import RecordingPlatform
from tests.unit.test_deploys import deploy_config, press, run_row
from tests.unit.test_dispatch import say
from tests.unit.test_gates_flow import ERRORS, bad_release, gate, gate_of, healthy, measure, ship

WORD = re.compile(r"[A-Za-z][A-Za-z_]+")


def english(card: Card, *names: str) -> set[str]:
    """The Latin-letter words of every text of `card`, less `names` (services, versions, people,
    metrics, backends) and the zone."""
    texts = [card.title, card.body, card.footer, card.badge.word if card.badge else ""]
    texts += [f"{f.label} {f.value}" for f in card.fields]
    texts += [s.title for s in card.sections] + [line for s in card.sections for line in s.lines]
    allowed = {"Tocsin", "UTC", *names}
    return {w for text in texts for w in WORD.findall(text)} - allowed


def lines(card: Card, title: str) -> tuple[str, ...]:
    return next(s.lines for s in card.sections if s.title.startswith(title))


def field(card: Card, label: str) -> str:
    return next(f.value for f in card.fields if f.label == label)


def posted(chat: RecordingPlatform, ref: str) -> Card:
    [card] = [s.card for s in chat.ops("post", "fake:ops") if s.card and s.card.ref == ref]
    return card


async def rolled_back(
    db: Database, clock: FakeClock, chat: RecordingPlatform, **options: object
) -> tuple[int, int]:
    """v1 verified, then v2 breaks its gate (25 % errors) and is rolled back automatically;
    the (bad, rollback) run numbers once the rollback has ended."""
    app, mem, _metrics, bad = await bad_release(db, clock, chat, 0.25, owner="alice", **options)
    rollback = (await gate_of(app, bad)).rollback_run_id
    await app.engine.tick()
    mem.finish(f"run-{rollback}")
    clock.advance(6)
    await app.engine.tick()
    return bad, rollback


async def test_a_rollback_is_reviewed_on_a_card_in_the_chat(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    bad, rollback = await rolled_back(db, clock, chat)
    card = posted(chat, review_ref(rollback))
    assert card.title == "Rollback of orders in staging: v2 → v1"
    assert card.status == "review.draft" and card.badge is not None
    assert (card.badge.word, card.badge.tone) == ("Draft", Tone.WORKING)
    assert field(card, "Service") == "orders · staging" and field(card, "Owner") == "Alice"
    assert field(card, "Bad release") == f"v2 (run #{bad}, asked by Bob)"
    assert field(card, "Restored") == f"v1 (run #{rollback}, Succeeded)"
    assert field(card, "Why") == "the health gate failed: error_rate 0.25 > 0.05"
    assert field(card, "Time to restore").endswith(" s")
    header, *measured = lines(card, "Health gate measurements")
    assert header == "Time (UTC) · Metric · Measured · Result"
    assert measured[-1].endswith(" · error_rate · 0.25 > 0.05 · failed")
    said = lines(card, "Timeline (UTC)")
    assert f"Bob confirmed run #{bad}" in "\n".join(said)
    assert any(f"the health gate of run #{bad} failed: error_rate 0.25" in s for s in said)
    assert any(f"Tocsin asked to roll back to v1 (run #{rollback})" in s for s in said)
    assert not [s for s in said if "button:" in s or "(allowed)" in s or "run:" in s]
    follow = lines(card, "Follow-up")
    assert follow[0] == "[ ] Find the root cause of the failure in v2"
    assert all(line.startswith("[ ] ") for line in follow)
    assert not [s for s in chat.ops("text", "fake:ops") if s.text.startswith("#")]


async def test_the_same_review_reads_in_chinese_without_english_words(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    bad, rollback = await rolled_back(db, clock, chat)
    async with db.connect() as conn:
        card = await render(conn, review_ref(rollback), "zh")
    assert card is not None
    assert card.title == "staging 环境 orders 的回滚：v2 → v1"
    assert card.badge is not None and card.badge.word == "草稿"
    assert field(card, "原因") == "健康检查未通过：error_rate 0.25 > 0.05"
    assert f"Bob 确认了任务 #{bad}" in "\n".join(lines(card, "时间线（UTC）"))
    assert english(card, "orders", "staging", "Alice", "Bob", "error_rate", "mem") == set()

    async with db.connect() as conn:  # a reader in Shanghai: the same moments, in their zone
        local = await render(conn, review_ref(rollback), "zh", "Asia/Shanghai")
    assert local is not None
    assert [s.title for s in local.sections][:2] == ["健康检查测量", "时间线（CST）"]
    utc_first = lines(card, "时间线")[0].split(" — ")[0]
    assert lines(local, "时间线")[0].startswith(utc_first[:11])  # the same day, 8 hours on
    assert int(lines(local, "时间线")[0][11:13]) == (int(utc_first[11:13]) + 8) % 24


async def test_buttons_pressed_and_refused_are_told_as_sentences(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app, mem, _metrics, bad = await bad_release(db, clock, chat, mode="manual")
    assert not (await press(app, "U-CAROL", ActionKind.ROLLBACK, bad)).ok  # a viewer
    assert (await press(app, "U-BOB", ActionKind.ROLLBACK, bad)).ok
    rollback = (await gate_of(app, bad)).rollback_run_id
    if (await run_row(app, rollback)).state == "awaiting_confirmation":  # asked by a person
        assert (await press(app, "U-BOB", ActionKind.CONFIRM, rollback)).ok
    await app.engine.tick()
    mem.finish(f"run-{rollback}")
    clock.advance(6)
    await app.engine.tick()
    card = posted(chat, review_ref(rollback))
    said = "\n".join(lines(card, "Timeline"))
    assert f"Carol tried to act on run #{bad} but was not allowed" in said
    assert f"Bob pressed Rollback on run #{bad}" in said
    assert (
        field(card, "Why") == "Bob rolled back after the health gate failed: error_rate 0.3 > 0.05"
    )


async def test_a_drill_gets_a_drill_report_not_a_root_cause_draft(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    drill = {"orders": {"environment": "staging", "version": "v9-bad"}}
    app, mem, metrics = await healthy(db, clock, chat, drills=drill)
    await ship(app, mem, clock, "v1")
    await measure(app, clock, 3)
    metrics.set_value(ERRORS, 0.3)
    assert (await say(app, "U-BOB", "/drill rollback orders")).ok
    await app.engine.tick()
    [deploy] = mem.running()
    mem.finish(deploy)
    clock.advance(6)
    await app.engine.tick()
    await measure(app, clock, 2)
    await app.engine.tick()
    [rollback] = mem.running()
    clock.advance(12)
    mem.finish(rollback)
    await app.engine.tick()
    card = posted(chat, review_ref(int(rollback.removeprefix("run-"))))
    assert card.title == "Rollback drill of orders in staging"
    assert card.status == "drill.passed" and card.badge is not None
    assert card.badge.tone == Tone.GOOD
    await app.engine.tick()  # the drill follows its runs to their end
    async with db.connect() as conn:
        row = (await conn.execute(select(drills))).one()
    assert row.state == "passed"  # the report says what the drill recorded
    restore, detect = round(row.restore_seconds), round(row.detect_seconds)
    assert card.body == (
        f"Passed — rolled back in {restore} s, the health gate caught the bad build in {detect} s."
    )
    assert not [s for s in card.sections if s.title == "Follow-up"]
    assert "root cause" not in str(card.to_json())
    async with db.connect() as conn:
        zh = await render(conn, card.ref, "zh")
    assert zh is not None and zh.body.startswith(f"通过 — {restore} 秒内完成回滚")


def write_config(tmp_path: Path, url: str) -> Path:
    raw = deploy_config()
    raw["database"] = {"url": url}
    raw["services"]["orders"]["gate"] = {"staging": gate()}
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


async def export(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = await asyncio.to_thread(main, ["incident", "export", *args])
    return code, capsys.readouterr().out


async def test_export_writes_the_review_as_markdown_or_text_in_either_language(
    db: Database,
    db_url: str,
    clock: FakeClock,
    chat: RecordingPlatform,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _bad, rollback = await rolled_back(db, clock, chat)
    config = str(write_config(tmp_path, db_url))
    code, markdown = await export(capsys, "--config", config, f"run:{rollback}")
    assert code == 0
    assert markdown.startswith("# Rollback of orders in staging: v2 → v1\n")
    assert "\n## Health gate measurements\n" in markdown and "\n## Follow-up\n" in markdown
    assert "| Time (UTC) | Metric | Measured | Result |\n|---|---|---|---|\n" in markdown
    assert "| error_rate | 0.25 > 0.05 | failed |" in markdown
    assert "\n- [ ] Find the root cause of the failure in v2\n" in markdown
    async with db.connect() as conn:
        stored = (await conn.execute(select(rca_drafts.c.markdown))).scalar_one()
    assert stored.strip() == markdown.strip()  # the draft kept when the rollback ended

    code, text = await export(capsys, "--config", config, f"run:{rollback}", "--format", "text")
    assert code == 0 and text.startswith("Rollback of orders in staging: v2 → v1\n[Draft]\n")
    assert "|" not in text and "**" not in text
    assert not [line for line in text.splitlines() if line.startswith(("#", "- "))]
    assert "  [ ] Find the root cause of the failure in v2\n" in text

    code, chinese = await export(capsys, "--config", config, f"run:{rollback}", "--lang", "zh")
    assert code == 0 and chinese.startswith("# staging 环境 orders 的回滚：v2 → v1\n")
    assert "| 时间（UTC） | 指标 | 测量值 | 结果 |" in chinese

    code, _ = await export(capsys, "--config", config, "run:999")
    assert code == 1


SENTENCES = [
    ("button:silence", "incident:3 silence 2h", "allowed", ""),
    ("button:accept", "run:4 accept", "allowed", ""),
    ("action", "run:4 hold", "failed", "auth.denied"),
    ("button:cancel", "run:4 cancel", "failed", "RuntimeError"),
]
SAID = [
    ("Alice silenced incident #3 for 2h", "Alice 将事件 #3 静默 2h"),
    ("Alice acted on run #4", "Alice 操作了任务 #4"),
    ("Alice tried to act on run #4 but was not allowed", "Alice 尝试操作任务 #4，但没有权限"),
    ("Alice acted on run #4, but it failed", "Alice 对任务 #4 的操作失败"),
]


@pytest.mark.parametrize(("entry", "said"), list(zip(SENTENCES, SAID, strict=True)))
def test_every_audit_entry_reads_as_a_sentence(
    entry: tuple[str, str, str, str], said: tuple[str, str]
) -> None:
    """Unknown buttons and failures read as sentences too, never as the raw entry."""
    action, target, outcome, error = entry
    row = Acted(datetime(2026, 3, 1, tzinfo=UTC), "Alice", action, target, outcome, error)
    assert (acted(row, "en"), acted(row, "zh")) == said
