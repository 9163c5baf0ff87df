"""The README's demo story, in English and in Chinese, on a desktop screen and on a phone.

One real `tocsin demo` per language; two Chromium contexts watch the same ops chat, one at
1280×800 and one at 390×844 (a phone: the phone presses the buttons, the desktop types the
commands). Alice signs in, sets the language, sees an alert card with its links and acknowledges
it, deploys a good payments release (the gate verifies it) and the bad orders release (the gate
fails and Tocsin rolls it back by itself), then reads /history and /help.

The flow waits on the demo's own database for what really happened; what the cards say about it
is checked against the catalogue's words (`bot.texts.status`), so a change of wording does not
break the test. Those checks are gathered and reported together at the end, each named by
language, screen and step. Every step is screenshotted as ``<lang>-<width>-<step>.png`` under
``$TOCSIN_STORY_SHOTS``, by default the test's tmp_path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Error, Locator, Page, expect

from bot.i18n import t
from tests.e2e.conftest import ProcessManager
from tests.e2e.story import (
    DEMO_NAMES,
    PRODUCTS,
    Findings,
    Ledger,
    Release,
    alert_words,
    assert_chinese,
    badge_is,
    card_messages,
    english_words,
    links_are_http,
    never_says,
    no_raw_keys,
    page_speaks,
    placeholder_fits,
    top_share,
    wait_until,
)
from tests.e2e.test_console_demo import (  # noqa: F401  (browser and chromium are fixtures)
    UI_TIMEOUT,
    become,
    browser,
    chromium,
    fire_from_cli,
    say,
    start_demo,
    transcript,
)

pytestmark = pytest.mark.e2e

VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}
LOCALES = {"en": "en-US", "zh": "zh-CN"}
GOOD = Release("payments", "v2.0.4", "staging")
BAD = Release("orders", "v1.4.4-bad", "staging")
DEPLOY_TIMEOUT = 60.0
"""Seconds for a run to roll out and its health gate to decide (about 25 s in the demo)."""
SETTLE_MS = 10_000
"""Milliseconds for a card to show what the database already says."""
SHOWN_MS = 2_000
"""Milliseconds for a check on a card already drawn in its new state, or on the second screen,
which got the same update as the first."""
HEADER_SHARE = 0.25
"""The most of the phone's height that the header and the demo banner may take together."""


@dataclass
class Screen:
    """One browser context on the demo's ops chat."""

    name: str
    width: int
    page: Page
    problems: list[str] = field(default_factory=list)

    def page_error(self, error: Error) -> None:
        self.problems.append(str(error))

    def card(self, message_id: int) -> Locator:
        return self.page.locator(f'.msg[data-message-id="{message_id}"]')


@dataclass
class Story:
    """One language's walk through the demo, on every screen."""

    lang: str
    base_url: str
    shots: Path
    screens: list[Screen]
    allowed: frozenset[str]
    """What a Chinese card may show in Latin letters (`tests.e2e.story.english_words`)."""
    findings: Findings = field(default_factory=Findings)

    @property
    def desktop(self) -> Screen:
        return self.screens[0]

    @property
    def phone(self) -> Screen:
        return self.screens[-1]

    def word(self, key: str) -> str:
        return t(f"status.{key}", self.lang)

    def check(self, screen: Screen, step: str, assertion: Callable[..., None], *args: Any) -> None:
        self.findings.check(f"{self.lang} {screen.name} {step}", assertion, *args)

    def snap(self, step: str, message_id: int | None = None) -> None:
        """Screenshot every screen, the card of `message_id` scrolled into view."""
        for screen in self.screens:
            if message_id is not None:
                screen.card(message_id).scroll_into_view_if_needed()
            path = self.shots / f"{self.lang}-{screen.width}-{step}.png"
            screen.page.screenshot(path=path, full_page=True)

    def badges(self, message_id: int, step: str, status: str, tone: str, settle: bool) -> None:
        """The card's badge says `status` in `tone` on every screen. With `settle`, the first
        screen is given time for an update the database already shows to arrive."""
        word = self.word(status)
        for i, screen in enumerate(self.screens):
            card, wait = screen.card(message_id), SETTLE_MS if settle and i == 0 else SHOWN_MS
            self.check(screen, step, badge_is, card, word, tone, wait)

    def phone_layout(self, step: str) -> None:
        """On the phone the command box's hint is whole and the cards keep the screen."""
        page = self.phone.page
        self.check(self.phone, step, placeholder_fits, page)
        share = top_share(page, ("body > header", "#demo-banner"))
        what = "of the height goes to the header and banner"
        self.check(self.phone, step, _at_most, share, HEADER_SHARE, what)


def _at_most(share: float, limit: float, what: str) -> None:
    assert share < limit, f"{share:.0%} {what} (less than {limit:.0%} expected)"


def shots_folder(tmp_path: Path) -> Path:
    base = os.environ.get("TOCSIN_STORY_SHOTS")
    folder = Path(base) if base else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def card_id(base_url: str, ref: str) -> int:
    """The console message holding the card `ref` (it keeps its id as the card changes); 0
    while there is none."""
    for message_id, card in card_messages(transcript(base_url)):
        if card.get("ref") == ref:
            return message_id
    return 0


@pytest.fixture
def screens(browser: Browser, lang: str) -> Iterator[list[Screen]]:  # noqa: F811
    contexts = []
    made: list[Screen] = []
    try:
        for name, (width, height) in VIEWPORTS.items():
            phone = name == "phone"
            context = browser.new_context(
                locale=LOCALES[lang],
                viewport={"width": width, "height": height},
                is_mobile=phone,
                has_touch=phone,
            )
            contexts.append(context)
            screen = Screen(name, width, context.new_page())
            screen.page.set_default_timeout(UI_TIMEOUT)
            screen.page.on("pageerror", screen.page_error)
            made.append(screen)
        yield made
    finally:
        for context in contexts:
            context.close()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_console_story(
    lang: str,
    screens: list[Screen],
    processes: ProcessManager,
    free_port: Callable[[], int],
    tmp_path: Path,
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "demo"
    demo = start_demo(processes, port, data_dir)
    ledger = Ledger(data_dir / "tocsin.db")
    allowed = PRODUCTS | DEMO_NAMES | alert_words()
    story = Story(lang, base_url, shots_folder(tmp_path), screens, allowed)

    # 1. Alice signs in (the demo's picker) and, for Chinese, sets her and the chat's language.
    for screen in screens:
        screen.page.goto(f"{base_url}/console?chat=ops")
        expect(screen.page.locator("#demo-banner")).to_be_visible()
        expect(screen.page.locator("#status")).to_have_attribute("data-state", "online")
        become(screen.page, "alice", "Alice Chen")
    if lang == "zh":
        for command, said in (
            ("/lang --chat zh", "cmd.chat_lang_set"),
            ("/lang zh", "cmd.lang_set"),
        ):
            say(story.desktop.page, command)
            reply = story.desktop.page.locator(".msg-text", has_text=t(said, "zh"))
            expect(reply.first).to_be_visible()
    for screen in screens:
        story.check(screen, "signed-in", page_speaks, screen.page, lang)
    story.phone_layout("signed-in")
    story.snap("signed-in")

    # 2. An alert fired from the command line: its card, with its runbook and dashboard links.
    incident = fire_from_cli(demo, port, data_dir)
    alert = wait_until(
        f"the card of incident #{incident}",
        lambda: card_id(base_url, f"incident:{incident}"),
        UI_TIMEOUT / 1000,
    )
    for screen in screens:
        card = screen.card(alert)
        expect(card).to_have_count(1)
        story.check(screen, "alert", links_are_http, card)
    story.badges(alert, "alert", "triggered", "alert", settle=False)
    story.snap("alert", alert)

    # 3. Acknowledged on the phone; both screens show it.
    story.phone.card(alert).locator('button[data-action="ack"]').click()
    for screen in screens:
        expect(screen.card(alert).locator('button[data-action="unack"]')).to_be_visible()
    story.badges(alert, "acknowledged", "acknowledged", "working", settle=False)
    story.snap("acknowledged", alert)

    # 4. A good release and the bad one wait for confirmation; the phone confirms both.
    good = ask_deploy(story, ledger, GOOD)
    story.snap("confirm", good)
    confirm(story, good)
    bad = ask_deploy(story, ledger, BAD)
    confirm(story, bad)

    # 5. The good release rolls out and its health gate verifies it.
    wait_until("the good release verified", lambda: ledger.verified(GOOD), DEPLOY_TIMEOUT)
    story.badges(good, "verified", "run.verified", "good", settle=True)
    story.snap("verified", good)

    # 6. The bad release goes live, its gate fails, Tocsin rolls it back by itself.
    back = wait_until(
        "the bad release rolled back", lambda: ledger.rolled_back(BAD), DEPLOY_TIMEOUT
    )
    story.badges(bad, "rolled-back", "run.rolled_back", "bad", settle=True)
    wrong = [story.word("run.succeeded"), "resolved", "triggered", "acknowledged"]
    for screen in screens:
        card = screen.card(bad)
        story.check(screen, "rolled-back", never_says, card, wrong)
        story.check(screen, "rolled-back", no_raw_keys, screen.page)
    story.snap("rolled-back", bad)

    # 7. /history tells it, /help lists what Alice may do.
    say(story.desktop.page, f"/history {BAD.service}")
    for screen in screens:
        history = screen.page.locator(".msg-bot .msg-text", has_text=BAD.version).last
        expect(history).to_contain_text(str(back["version"]))
    story.snap("history")
    say(story.desktop.page, "/help")
    for screen in screens:
        header = t("cmd.help_header", lang)
        expect(screen.page.locator(".msg-bot .msg-text", has_text=header).last).to_be_visible()
    story.snap("help")

    # 8. In Chinese every card and the help read in Chinese; the phone's layout still holds;
    # no page reported an error.
    for screen in screens:
        if lang == "zh":
            chinese(story, screen)
        story.check(screen, "end", page_speaks, screen.page, lang)
        story.check(screen, "end", _no_page_errors, screen)
    story.phone_layout("end")
    story.findings.verify()


def ask_deploy(story: Story, ledger: Ledger, release: Release) -> int:
    """Type the deploy of `release`; its card waits for confirmation on every screen. Returns
    the card's message id."""
    say(story.desktop.page, release.command)
    run = wait_until(f"the run of {release}", lambda: ledger.deploy(release), UI_TIMEOUT / 1000)
    ref = f"run:{run['id']}"
    message_id = int(
        wait_until(f"the card {ref}", lambda: card_id(story.base_url, ref), UI_TIMEOUT / 1000)
    )
    for screen in story.screens:
        expect(screen.card(message_id).locator('button[data-action="confirm"]')).to_be_visible()
    story.badges(message_id, "confirm", "run.awaiting_confirmation", "waiting", settle=False)
    return message_id


def confirm(story: Story, message_id: int) -> None:
    button = story.phone.card(message_id).locator('button[data-action="confirm"]')
    button.click()
    expect(button).to_have_count(0)


def chinese(story: Story, screen: Screen) -> None:
    """Every card on the screen, and the last reply (/help), read in Chinese. (The page's own
    labels around them are `page_speaks`'s.)"""
    for card in screen.page.locator(".msg.kind-card .card").all():
        where = f"card {card.locator('.card-title').first.inner_text()!r}"
        story.check(screen, "end", assert_chinese, card.inner_text(), story.allowed, where)
    reply = screen.page.locator(".msg-bot .msg-text").last.inner_text()
    story.check(screen, "help", assert_chinese, reply, story.allowed, "/help")


def _no_page_errors(screen: Screen) -> None:
    assert screen.problems == [], f"the page reported errors: {screen.problems}"


def test_english_words_are_what_a_chinese_reader_would_have_to_read() -> None:
    allowed = PRODUCTS | DEMO_NAMES
    said = "\n".join(
        [
            "发布 orders v1.4.4-bad → staging（Alice Chen）",
            "健康检查 error_rate: 3/3 measured, last 0 <= 0.05 ✓ → passed",
            "运行手册 https://runbooks.example.com/orders/high-error-rate 实例 orders-9f3c2a",
            "例如：/deploy orders v1.4.2 prod",
            "replica 1/3 updated to v1.4.4-bad",
            "RESULT status=succeeded message=orders v1.4.4-bad is live",
            "Tocsin 已回滚 · Grafana · 2026-12-06 20:15 UTC",
        ]
    )
    assert english_words(said, allowed) == ["measured", "last", "passed"]
    assert english_words("已认领 · P1 · #42", allowed) == []
    with pytest.raises(AssertionError, match=r"card 7: .*'Health', 'gate'"):
        assert_chinese("Health gate 未通过", allowed, "card 7")
