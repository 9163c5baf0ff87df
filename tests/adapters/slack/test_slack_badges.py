"""Block Kit shows a card's badge (tone emoji, bold word), its links as URL buttons and its
sections, in the reader's language, and never a raw status key."""

from __future__ import annotations

import json

import pytest

from adapters.chat.slack.render import MAX_BLOCKS, MAX_SECTION, render_card
from bot.model import Card, Link, Section, Tier, Tone
from bot.statuses import TONES, badge
from tests.cards import run_card

TONE_EMOJI = {
    Tone.ALERT: ":rotating_light:",
    Tone.WAITING: ":hourglass_flowing_sand:",
    Tone.WORKING: ":large_blue_circle:",
    Tone.GOOD: ":white_check_mark:",
    Tone.BAD: ":x:",
    Tone.MUTED: ":mute:",
}


def context_text(card: Card, lang: str = "en") -> str:
    text: str = render_card(card, lang).blocks[1]["elements"][0]["text"]
    return text


@pytest.mark.parametrize("status", sorted(TONES))
def test_every_status_shows_its_tone_and_word(status: str) -> None:
    shown = context_text(run_card(status))
    word = badge(status, "en").word
    assert shown.startswith(f"{TONE_EMOJI[TONES[status]]} *{word}*")
    if status.startswith("run."):
        assert "resolved" not in shown.lower() and "triggered" not in shown.lower()


def test_a_rolled_back_run_reads_rolled_back_in_red_terms() -> None:
    shown = context_text(run_card("run.rolled_back"))
    assert shown == ":x: *Rolled back* · Run #3 · ops"


def test_a_chinese_card_shows_the_chinese_word() -> None:
    assert context_text(run_card("run.verifying", "zh"), "zh").startswith(
        ":large_blue_circle: *成功 — 健康检查中*"
    )


def test_a_stored_card_without_badge_falls_back_to_its_status_never_the_raw_key() -> None:
    old = Card(ref="incident:7", title="HighErrorRate", tier=Tier.P1, status="acknowledged")
    assert context_text(old, "zh").startswith(":large_blue_circle: *已认领*")
    odd = Card(ref="x:1", title="Odd", tier=Tier.P1, status="paging")
    assert "paging" not in context_text(odd)
    assert context_text(odd).startswith(":information_source: · *P1*")


def test_links_are_url_buttons_and_only_web_links_are_shown() -> None:
    card = run_card(
        links=(
            Link("Runbook", "https://wiki.example.com/orders"),
            Link("Evil", "javascript:alert(1)"),
            Link("Mail", "mailto:ops@example.com"),
            Link("Dashboard", "http://grafana.example.com/d/1"),
            Link("Far too long", "https://example.com/" + "x" * 3000),
        )
    )
    blocks = render_card(card).blocks
    elements = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [(e["text"]["text"], e["url"]) for e in elements] == [
        ("Runbook", "https://wiki.example.com/orders"),
        ("Dashboard", "http://grafana.example.com/d/1"),
    ]
    assert len({e["action_id"] for e in elements}) == 2
    assert all(e["action_id"].startswith("tocsin:link:") for e in elements)
    assert "javascript:" not in json.dumps(blocks)


def test_sections_are_headed_blocks_with_checklist_marks() -> None:
    card = run_card(
        sections=(
            Section("Next steps", ("[ ] Write the review", "[x] Roll back", "<!channel> ping")),
        )
    )
    blocks = render_card(card).blocks
    section = blocks[-1]
    assert section["type"] == "section"
    assert section["text"]["text"] == (
        "*Next steps*\n☐ Write the review\n☑ Roll back\n&lt;!channel&gt; ping"
    )


def test_long_and_many_sections_are_cut_within_slack_limits() -> None:
    sections = tuple(Section(f"Part {n}", ("line " * 1000,)) for n in range(80))
    blocks = render_card(run_card(sections=sections)).blocks
    assert len(blocks) == MAX_BLOCKS
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    assert all(len(text) <= MAX_SECTION for text in texts)
    assert texts[-1].endswith("…")
