"""DingTalk shows the badge as its tone's mark and word in the tone's colour, the card's links as
markdown links and its sections as a bold title with lines, on the interactive card (``body``,
``status_icon``) and in markdown."""

from __future__ import annotations

import pytest

from adapters.chat.dingtalk.render import card_params, markdown, robot_message
from bot.model import ActionKind, Button, Card, Link, Section, Tier
from bot.statuses import TONES, badge
from tests.cards import run_card

card = run_card


@pytest.mark.parametrize(
    ("status", "mark", "colour"),
    [
        ("run.awaiting_confirmation", "⏳", "#FB8C00"),
        ("run.running", "🔵", "#1E88E5"),
        ("run.verified", "✅", "#43A047"),
        ("run.gate_failed", "🚨", "#E53935"),
        ("run.rolled_back", "❌", "#E53935"),
        ("run.expired", "🔕", "#9E9E9E"),
    ],
)
def test_the_badge_shows_its_tone(status: str, mark: str, colour: str) -> None:
    word = badge(status, "en").word
    line = f'<font color="{colour}">{mark} **{word}**</font>'
    params = card_params(card(status))
    assert params["body"].startswith(line)
    assert params["status_icon"] == mark and params["status"] == status
    assert markdown(card(status)).split("\n\n")[1] == line


def test_a_rolled_back_run_never_reads_resolved() -> None:
    shown = markdown(card("run.rolled_back"))
    assert "Rolled back" in shown and "resolved" not in shown.lower()


def test_chinese_and_stored_cards_without_badge() -> None:
    assert "**已回滚**" in card_params(card("run.rolled_back", "zh"), "zh")["body"]
    old = Card(ref="incident:1", title="HighErrorRate", tier=Tier.P0, status="silenced")
    assert '<font color="#9E9E9E">🔕 **已静默**</font>' in markdown(old, lang="zh")
    odd = Card(ref="x:1", title="Odd", tier=Tier.P0, status="paging")
    params = card_params(odd)
    assert params["status_icon"] == "ℹ️" and "paging" not in params["body"]
    assert "paging" not in markdown(odd)


def test_every_status_has_a_badge_in_both_languages() -> None:
    for status in TONES:
        for lang in ("en", "zh"):
            word = badge(status, lang).word
            assert f"**{word}**" in markdown(card(status, lang), lang=lang)


def test_links_are_markdown_links_and_only_web_links() -> None:
    links = (
        Link("Runbook [v2]", "https://wiki.example.com/orders_(prod)"),
        Link("Evil", "javascript:alert(1)"),
        Link("Dashboard", "http://grafana.example.com/d/1"),
    )
    expected = (
        "[Runbook ［v2］](https://wiki.example.com/orders_%28prod%29) · "
        "[Dashboard](http://grafana.example.com/d/1)"
    )
    assert expected in card_params(card(links=links))["body"]
    assert expected in markdown(card(links=links))
    assert "javascript" not in markdown(card(links=links))
    robot = robot_message(card(links=links))
    assert expected in robot["markdown"]["text"]


def test_action_links_and_card_links_share_the_link_line() -> None:
    buttons = (Button("Acknowledge", ActionKind.ACK, url="https://tocsin.test/a/1"),)
    shown = markdown(
        card(links=(Link("Runbook", "https://wiki.example.com"),), buttons=buttons), links=True
    )
    assert "[Acknowledge](https://tocsin.test/a/1) · [Runbook](https://wiki.example.com)" in shown


def test_sections_are_a_bold_title_and_lines_with_checklist_marks() -> None:
    sections = (Section("Next steps", ("[ ] Write the review", "[x] Roll back", "<b>x</b>")),)
    expected = "**Next steps**\n\n☐ Write the review\n\n☑ Roll back\n\n＜b＞x＜/b＞"
    assert expected in card_params(card(sections=sections))["body"]
    assert expected in markdown(card(sections=sections))
