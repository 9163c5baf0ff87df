"""Feishu cards show the badge as a coloured text tag (and, for ended or tierless cards, as the
header colour), links as open_url buttons and sections as a bold title with plain lines."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest

from adapters.chat.feishu.render import MAX_CARD_BYTES, render_card, size
from bot.model import Card, Link, Section, Tier
from bot.statuses import TONES, badge
from tests.cards import run_card

Json = dict[str, Any]


card = partial(run_card, body="")


def tags(rendered: Json) -> list[tuple[str, str]]:
    return [(t["text"]["content"], t["color"]) for t in rendered["header"].get("text_tag_list", [])]


@pytest.mark.parametrize(
    ("status", "template", "tag"),
    [
        ("run.awaiting_approval", "orange", "orange"),
        ("run.running", "blue", "blue"),
        ("run.verified", "green", "green"),
        ("run.gate_failed", "red", "red"),
        ("run.rolled_back", "red", "red"),
        ("run.cancelled", "grey", "neutral"),
    ],
)
def test_a_run_card_takes_its_tone_colour(status: str, template: str, tag: str) -> None:
    rendered = render_card(card(status))
    assert rendered["header"]["template"] == template
    assert tags(rendered) == [(badge(status, "en").word, tag)]


def test_a_rolled_back_run_is_red_and_never_says_resolved() -> None:
    rendered = render_card(card("run.rolled_back"))
    assert rendered["header"]["template"] == "red"
    assert tags(rendered) == [("Rolled back", "red")]
    flat = json.dumps(rendered).lower()
    assert "resolved" not in flat and "triggered" not in flat


def test_the_tier_colours_a_live_incident_and_the_tone_an_ended_one() -> None:
    live = render_card(card("acknowledged", tier=Tier.P0))
    assert live["header"]["template"] == "red", "P0 stays red while acknowledged"
    assert tags(live) == [("P0", "red"), ("Acknowledged", "blue")]
    ended = render_card(card("resolved", tier=Tier.P0))
    assert ended["header"]["template"] == "green"
    muted = render_card(card("silenced", tier=Tier.P1))
    assert muted["header"]["template"] == "grey"


def test_a_chinese_card_and_a_stored_card_without_badge() -> None:
    zh = render_card(card("run.rolling_back", "zh"), "zh")
    assert tags(zh) == [("健康检查未通过 — 回滚中", "red")]
    old = Card(ref="incident:1", title="HighErrorRate", tier=Tier.P2, status="resolved")
    assert tags(render_card(old, "zh")) == [("P2", "yellow"), ("已恢复", "green")]
    unknown = Card(ref="x:1", title="Odd", tier=None, status="run.paused")
    rendered = render_card(unknown)
    assert tags(rendered) == [] and "run.paused" not in json.dumps(rendered)
    assert rendered["header"]["template"] == "blue"


def test_every_status_of_the_vocabulary_renders() -> None:
    for status in TONES:
        for lang in ("en", "zh"):
            rendered = render_card(card(status, lang), lang)
            assert tags(rendered)[-1][0] == badge(status, lang).word


def test_links_open_their_url_and_other_schemes_are_dropped() -> None:
    links = (
        Link("Runbook", "https://wiki.example.com/orders"),
        Link("Evil", "javascript:alert(1)"),
        Link("Dashboard", "http://grafana.example.com/d/1"),
    )
    rendered = render_card(card(links=links))
    buttons = [
        element
        for row in rendered["body"]["elements"]
        if row["tag"] == "column_set" and row.get("flex_mode") == "flow"
        for column in row["columns"]
        for element in column["elements"]
    ]
    assert [(b["text"]["content"], b["behaviors"]) for b in buttons] == [
        ("Runbook", [{"type": "open_url", "default_url": "https://wiki.example.com/orders"}]),
        ("Dashboard", [{"type": "open_url", "default_url": "http://grafana.example.com/d/1"}]),
    ]
    assert "javascript" not in json.dumps(rendered)


def test_sections_have_a_bold_title_and_inert_plain_lines() -> None:
    hostile = "<at id=all></at> [x](https://evil.example) **bold**"
    sections = (
        Section("Checklist <at id=all></at>", ("[ ] Write the review", "[x] Roll back", hostile)),
    )
    elements = render_card(card(sections=sections))["body"]["elements"]
    title, lines = elements[-2], elements[-1]
    assert title == {"tag": "markdown", "content": "**Checklist ＜at id=all＞＜/at＞**"}
    assert lines["tag"] == "div" and lines["text"]["tag"] == "plain_text"
    assert lines["text"]["content"] == f"☐ Write the review\n☑ Roll back\n{hostile}"


def test_huge_sections_still_fit_the_card() -> None:
    sections = tuple(Section(f"Part {n}", ("长" * 3000,)) for n in range(20))
    rendered = render_card(card(sections=sections))
    assert size(rendered) <= MAX_CARD_BYTES
