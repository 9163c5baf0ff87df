"""Cards in headless Chromium: the badge by tone, links, sections; the labels in the person's own
language; a compact header and a readable input on a phone. Skipped only when Chromium is
missing and CI is not "true"."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from console_support import ConsoleApp
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright
from test_console_browser import CHROMIUM, CHROMIUM_ARGS, ServerThread

from bot.model import Card, Destination, Field, Link, Section
from bot.prefs import set_language, user_scope
from bot.statuses import badge

pytestmark = pytest.mark.e2e
OPS = Destination("console", "ops")
PHONE: ViewportSize = {"width": 390, "height": 844}


def run_card(lang: str = "en") -> Card:
    return Card(
        ref="run:3",
        title="Deploy orders v1.4.4-bad → staging",
        tier=None,
        status="run.rolled_back",
        badge=badge("run.rolled_back", lang),
        fields=(Field("Service", "orders"),),
        body="Health gate failed twice.",
        links=(
            Link("Runbook", "https://wiki.example.com/orders"),
            Link("Evil", "javascript:alert(1)"),
        ),
        sections=(Section("Checklist", ("[x] Roll back", "[ ] Write the review")),),
        footer="Run #3 · ops",
    )


@pytest.fixture
def server(make_console: Callable[..., ConsoleApp]) -> Iterator[tuple[ConsoleApp, ServerThread]]:
    if not CHROMIUM.exists() and os.environ.get("CI") != "true":
        pytest.skip(f"{CHROMIUM} is not installed")
    console = make_console(auth="demo")
    with ServerThread(console.app) as running:
        yield console, running


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Browser, url: str, viewport: ViewportSize | None = None) -> Page:
    context = browser.new_context(locale="en-US", viewport=viewport)
    page = context.new_page()
    page.goto(f"{url}/console?chat=ops")
    return page


def test_a_run_card_shows_badge_links_and_sections(
    server: tuple[ConsoleApp, ServerThread], browser: Browser
) -> None:
    console, running = server
    message = running.call(console.inbound.post(OPS, run_card()))
    page = open_page(browser, running.url)
    card = page.locator(f'[data-message-id="{message}"] article.card')
    expect(card.locator(".badge")).to_have_class("badge tone-bad")
    expect(card.locator(".badge")).to_have_text("Rolled back")
    assert "resolved" not in card.inner_text().lower()
    link = card.locator("a.card-link")
    expect(link).to_have_count(1)
    expect(link).to_have_text("Runbook")
    assert link.get_attribute("href") == "https://wiki.example.com/orders"
    assert (link.get_attribute("target"), link.get_attribute("rel")) == (
        "_blank",
        "noopener noreferrer",
    )
    section = card.locator(".card-section")
    expect(section.locator("h4")).to_have_text("Checklist")
    expect(section.locator("li")).to_have_text(["☑ Roll back", "☐ Write the review"])


def test_labels_follow_the_persons_language_not_the_browser(
    server: tuple[ConsoleApp, ServerThread], browser: Browser
) -> None:
    console, running = server

    async def choose() -> None:
        async with console.db.begin() as conn:
            await set_language(console.db, conn, user_scope("alice"), "zh")

    running.call(choose())
    running.call(console.inbound.post(OPS, run_card("zh")))
    page = open_page(browser, running.url)
    expect(page.locator("#send")).to_have_text("发送")
    expect(page.locator("#input")).to_have_attribute("placeholder", "输入命令，如 /help")
    expect(page.locator(".badge.tone-bad")).to_have_text("已回滚")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"

    # Bob has chosen nothing: English, as Tocsin is configured; his /lang switches the page.
    page.select_option("#user-select", "bob")
    expect(page.locator("#send")).to_have_text("Send")
    page.fill("#input", "/lang zh")
    page.press("#input", "Enter")
    expect(page.locator("#send")).to_have_text("发送")


def test_on_a_phone_the_header_is_compact_and_the_placeholder_fits(
    server: tuple[ConsoleApp, ServerThread], browser: Browser
) -> None:
    console, running = server
    running.call(console.inbound.post(OPS, run_card()))
    page = open_page(browser, running.url, PHONE)
    expect(page.locator(".badge")).to_be_visible()
    bar = page.locator("header.bar").bounding_box()
    banner = page.locator("#demo-banner").bounding_box()
    assert bar is not None and banner is not None
    assert bar["height"] + banner["height"] <= 0.15 * PHONE["height"]
    expect(page.locator("#demo-banner")).to_contain_text("Demo mode")
    fits = page.evaluate(
        """() => {
            const input = document.getElementById("input");
            const style = getComputedStyle(input);
            const context = document.createElement("canvas").getContext("2d");
            context.font = `${style.fontSize} ${style.fontFamily}`;
            const room = input.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight);
            return context.measureText(input.placeholder).width <= room;
        }"""
    )
    assert fits is True
