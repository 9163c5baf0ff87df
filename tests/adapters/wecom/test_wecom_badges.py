"""WeCom shows the badge (tone mark and word; the source colour for ended or tierless cards), the
card's links (URL rows on the app's card, jump_list and markdown links on the robot) and its
sections, in the reader's language."""

from __future__ import annotations

import json
from functools import partial

import pytest

from adapters.chat.wecom.render import after_action, template_card
from adapters.chat.wecom.robot_render import markdown, robot_message, text_notice
from bot.model import ActionKind, Button, Card, Field, Section, Tier
from bot.statuses import EMOJI, TONES, badge
from tests.cards import LINKS, run_card

card = partial(run_card, title="Deploy orders v1.4.4", footer="Run #3")


@pytest.mark.parametrize(
    ("status", "colour", "font"),
    [
        ("run.awaiting_approval", 1, "warning"),
        ("run.running", 1, "comment"),
        ("run.verified", 3, "info"),
        ("run.gate_failed", 2, "warning"),
        ("run.rolled_back", 2, "warning"),
        ("run.cancelled", 0, "comment"),
    ],
)
def test_the_badge_shows_its_tone(status: str, colour: int, font: str) -> None:
    word = badge(status, "en").word
    sent = template_card(card(status), "en", "t")
    assert sent["source"]["desc_color"] == colour
    assert sent["main_title"]["desc"].startswith(f"{EMOJI[TONES[status]]} {word[:30]}")
    shown = markdown(card(status)).splitlines()
    assert shown[0].startswith(f'### 🔵 <font color="{font}">')
    assert shown[1].startswith(f'<font color="{font}">') and word in shown[1]


def test_a_rolled_back_run_reads_rolled_back_never_resolved() -> None:
    sent = template_card(card("run.rolled_back"), "en", "t")
    assert sent["main_title"]["desc"] == "❌ Rolled back · Run #3"
    assert [b["text"] for b in sent["button_list"]] == ["Rolled back"]
    flat = json.dumps(sent, ensure_ascii=False).lower()
    assert "resolved" not in flat and "triggered" not in flat


def test_a_live_incident_keeps_its_tier_colour_and_an_ended_one_takes_its_tone() -> None:
    live = template_card(card("acknowledged", tier=Tier.P0), "en", "t")
    assert live["source"]["desc_color"] == 2
    assert live["main_title"]["desc"].startswith("🔵 Acknowledged")
    done = template_card(card("resolved", tier=Tier.P0), "en", "t")
    assert done["source"]["desc_color"] == 3


def test_chinese_and_stored_cards_without_badge() -> None:
    zh = template_card(card("run.rolled_back", "zh"), "zh", "t")
    assert zh["main_title"]["desc"].startswith("❌ 已回滚")
    old = Card(ref="incident:1", title="HighErrorRate", tier=Tier.P1, status="silenced")
    assert template_card(old, "zh", "t")["button_list"][0]["text"] == "已静默"
    assert '<font color="comment">🔕 已静默</font>' in markdown(old, "zh")
    odd = Card(ref="x:1", title="Odd", tier=Tier.P1, status="paging")
    sent = template_card(odd, "en", "t")
    assert "paging" not in json.dumps(sent) and "paging" not in markdown(odd)


def test_every_status_renders_in_both_languages() -> None:
    for status in TONES:
        for lang in ("en", "zh"):
            word = badge(status, lang).word
            assert word in markdown(card(status, lang), lang)


def test_the_app_card_shows_links_as_url_rows() -> None:
    sent = template_card(card(links=LINKS), "en", "t")
    rows = sent["horizontal_content_list"]
    assert rows == [
        {"keyname": "Service", "value": "orders"},
        {
            "type": 1,
            "keyname": "Runbook",
            "value": "wiki.example.com",
            "url": "https://wiki.example.com/orders",
        },
        {
            "type": 1,
            "keyname": "Dashboard",
            "value": "grafana.example.com",
            "url": "http://grafana.example.com/d/1",
        },
    ]
    assert "javascript" not in json.dumps(sent)


def test_six_fields_leave_room_for_one_link() -> None:
    fields = tuple(Field(f"F{n}", str(n)) for n in range(8))
    full = Card(
        ref="run:3",
        title="x",
        tier=None,
        status="run.running",
        fields=fields,
        badge=badge("run.running", "en"),
        links=LINKS,
    )
    rows = template_card(full, "en", "t")["horizontal_content_list"]
    assert len(rows) == 6 and rows[-1]["keyname"] == "Runbook"


def test_the_robot_shows_links_in_markdown_and_jump_list() -> None:
    acks = (Button("Acknowledge", ActionKind.ACK, url="https://tocsin.test/a/1"),)
    shown = markdown(card(links=LINKS, buttons=acks))
    assert shown.endswith(
        "[Acknowledge](https://tocsin.test/a/1)  [Runbook](https://wiki.example.com/orders)"
        "  [Dashboard](http://grafana.example.com/d/1)"
    )
    assert "javascript" not in shown
    notice = text_notice(card(links=LINKS, buttons=acks), "en", None)
    assert [(j["title"], j["url"]) for j in notice["jump_list"]] == [
        ("Acknowledge", "https://tocsin.test/a/1"),
        ("Runbook", "https://wiki.example.com/orders"),
        ("Dashboard", "http://grafana.example.com/d/1"),
    ]
    assert notice["emphasis_content"]["desc"] == "Rolled back"
    linked = robot_message(card(links=LINKS), "en", "text_notice")
    assert linked["msgtype"] == "template_card", "a card link is enough for a text_notice"


def test_sections_are_a_bold_title_and_lines_with_checklist_marks() -> None:
    sections = (Section("Next steps", ("[ ] Write the review", "[x] Roll back", "<@all>")),)
    shown = markdown(card(sections=sections))
    assert "**Next steps**\n☐ Write the review\n☑ Roll back\n＜@all＞" in shown
    sent = template_card(card(sections=sections), "en", "t")
    assert sent["sub_title_text"].startswith(
        "Health gate failed twice.\nNext steps\n☐ Write the review\n☑ Roll back"
    )


def test_long_sections_keep_the_robot_markdown_within_4096_bytes_and_the_links() -> None:
    sections = tuple(Section(f"Part {n}", ("长" * 1000,)) for n in range(10))
    shown = markdown(card(links=LINKS, sections=sections))
    assert len(shown.encode()) <= 4096
    assert shown.endswith("[Dashboard](http://grafana.example.com/d/1)")


def test_after_an_action_the_badge_follows_the_status() -> None:
    live = card("triggered", "zh", tier=Tier.P1)
    acked, label = after_action(live, ActionKind.ACK, "zh")
    assert acked.badge == badge("acknowledged", "zh") and label == "已认领"
    rolled, _ = after_action(live, ActionKind.ROLLBACK, "zh")
    assert rolled.badge == live.badge
