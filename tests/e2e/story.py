"""Helpers for the console story test: what a Chinese card may show in Latin letters, what a
card's badge and links must look like, how a phone screen is measured, the demo's own record of
its runs, and checks gathered across screens.

`english_words` is the rule a Chinese reader's text is held to: once URLs, commands as typed
(``/deploy orders v1.4.2 prod``), versions, numbers and identifiers (anything with a digit,
``_``, ``/``, ``@``, ``=`` or an inner dot) are set aside, every remaining word of Latin letters
must be in the allowed set (names of services, environments, people and products). A deploy
script's output is shown as it printed it, so lines matching `VERBATIM_LINES` are left out too.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from bot.demo import DEMO_VERSIONS, demo_alert_json
from bot.statuses import TONES

PRODUCTS = frozenset(
    {
        "Tocsin",
        "Slack",
        "DingTalk",
        "WeCom",
        "Feishu",
        "Lark",
        "Prometheus",
        "Alertmanager",
        "Grafana",
        "PromQL",
        "UTC",
    }
)
"""Names a Chinese text keeps as they are (UTC is the time zone cards give times in)."""

DEMO_NAMES = frozenset(
    {*DEMO_VERSIONS, "staging", "prod", "ops", "Alice", "Chen", "Bob", "Carol", "Diaz", "demo"}
    | {"alice", "bob", "carol"}
)
"""The demo's services, environments, chat, people (names and ids) and its deploy backend."""

VERBATIM_LINES = (
    re.compile(r"^(Deploying|Rolling back) \S+ \S+ → \S+ in \S+$"),
    re.compile(r"^replica \d+/\d+ (updated to \S+|crashed on start: \w+)$"),
    re.compile(r"^\S+ (\S+ is live.*|canary taken away)$"),
    re.compile(r"^dry run: .*$"),
    re.compile(r"^RESULT status=\w+ message=.*$"),
)
"""What `bot.demo_deploy` prints; a run card shows the end of it as the backend wrote it."""

_URL = re.compile(r"https?://\S+")
_TYPED = re.compile(r"(?<![\w/])/[a-z]+\b.*$")
"""A command as one types it (``/deploy orders v1.4.2 prod``), to the end of its line."""
_TOKEN = re.compile(r"[A-Za-z0-9_./@=#%:{}\"'-]+")
_IDENTIFIER = re.compile(r"[0-9_/@=#{}\"]|\w\.\w|:|-[0-9a-f]{6}$")
"""A token that is an id, a number, a path, a host name or a demo instance (``orders-9f3c2a``)."""
_WORD = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")


def alert_words() -> frozenset[str]:
    """The words of the demo's alerts: titles and summaries come from the monitoring system
    as they are, in the language it was set up in."""
    words: set[str] = set()
    pick = 0
    while True:
        try:
            alert = demo_alert_json(pick)
        except IndexError:  # past the last of them
            return frozenset(words)
        for value in (alert["name"], alert["summary"], alert["description"]):
            words.update(_WORD.findall(_URL.sub(" ", value)))
        pick += 1


def english_words(text: str, allowed: Iterable[str]) -> list[str]:
    """The words of Latin letters in `text` that a Chinese reader should not have to read, in
    order of first appearance; names in `allowed` match whatever their case."""
    known = {word.casefold() for word in allowed}
    found: dict[str, None] = {}
    for line in text.splitlines():
        line = line.strip()
        if any(pattern.match(line) for pattern in VERBATIM_LINES):
            continue
        for token in _TOKEN.findall(_TYPED.sub(" ", _URL.sub(" ", line))):
            token = token.strip(".:'\"-")
            if not token or _IDENTIFIER.search(token):
                continue
            for word in _WORD.findall(token):
                if word.casefold() not in known:
                    found.setdefault(word)
    return list(found)


def assert_chinese(text: str, allowed: Iterable[str], where: str) -> None:
    """Fails, naming `where` and every offending word, when `text` holds English words."""
    words = english_words(text, allowed)
    if words:
        raise AssertionError(
            f"{where}: Chinese text shows English words {', '.join(map(repr, words))}"
            f"\n--- the text ---\n{text}"
        )


@dataclass
class Findings:
    """Checks gathered across steps and screens, so one run reports every failure at once."""

    failures: list[str] = field(default_factory=list)

    def check(self, where: str, assertion: Callable[..., None], *args: Any) -> None:
        """Run `assertion(*args)`; a failure is kept, named by `where`, and the test goes on."""
        try:
            assertion(*args)
        except AssertionError as exc:
            said = str(exc).split("\nCall log:")[0].strip()  # Playwright's log is long
            self.failures.append(f"[{where}] {said}")

    def verify(self) -> None:
        if self.failures:
            count = len(self.failures)
            pytest.fail(f"{count} check(s) failed:\n\n" + "\n\n".join(self.failures), pytrace=False)


def wait_until(what: str, probe: Callable[[], Any], timeout: float, poll: float = 0.25) -> Any:
    """`probe()`'s first truthy answer; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not seen within {timeout} s", pytrace=False)
        time.sleep(poll)


@dataclass(frozen=True)
class Release:
    """A version of a service to deploy to an environment."""

    service: str
    version: str
    environment: str

    @property
    def command(self) -> str:
        return f"/deploy {self.service} {self.version} {self.environment}"


@dataclass(frozen=True)
class Ledger:
    """The demo's own database, read only: where a run and its health gate really are."""

    path: Path

    def _rows(self, sql: str, *params: object) -> list[sqlite3.Row]:
        uri = f"file:{self.path}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=5.0)) as conn:
            conn.row_factory = sqlite3.Row
            return list(conn.execute(sql, params).fetchall())

    def deploy(self, release: Release) -> sqlite3.Row | None:
        """The newest deploy run of `release`."""
        rows = self._rows(
            "SELECT * FROM runs WHERE action = 'deploy' AND service = ? AND environment = ?"
            " AND version = ? ORDER BY id DESC LIMIT 1",
            release.service,
            release.environment,
            release.version,
        )
        return rows[0] if rows else None

    def run(self, run_id: int) -> sqlite3.Row | None:
        rows = self._rows("SELECT * FROM runs WHERE id = ?", run_id)
        return rows[0] if rows else None

    def gate(self, run_id: int) -> sqlite3.Row | None:
        """The newest health gate analysis of run `run_id`."""
        rows = self._rows(
            "SELECT * FROM gate_runs WHERE run_id = ? ORDER BY id DESC LIMIT 1", run_id
        )
        return rows[0] if rows else None

    def verified(self, release: Release) -> bool:
        run = self.deploy(release)
        return run is not None and bool(run["verified"])

    def rolled_back(self, release: Release) -> sqlite3.Row | None:
        """The finished rollback that the health gate of `release` started, if any."""
        run = self.deploy(release)
        gate = self.gate(int(run["id"])) if run is not None else None
        if gate is None or gate["rollback_run_id"] is None:
            return None
        back = self.run(int(gate["rollback_run_id"]))
        return back if back is not None and back["finished_at"] is not None else None


def card_messages(messages: Iterable[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(message id, card) of each card in a console transcript."""
    for message in messages:
        if message["kind"] == "card" and message["card"]:
            yield int(message["id"]), message["card"]


RAW_KEY = re.compile(r"^[a-z_]+(\.[a-z_]+)*$")
"""A status key as stored (``triggered``, ``run.rolled_back``), never a word for people."""
BADGES = ".badge, .status-badge"
"""Where a card says its status (``.status-badge``: how the console said it before badges)."""


def describe_badge(card: Locator) -> str:
    badge = card.locator(BADGES).first
    if badge.count() == 0:
        head = card.locator(".card-head").first
        shown = head.inner_text() if head.count() else card.inner_text()[:200]
        return f"the card has no badge; its head reads {shown!r}"
    return f"its badge reads {badge.inner_text()!r} with classes {badge.get_attribute('class')!r}"


def badge_is(card: Locator, word: str, tone: str, timeout: float) -> None:
    """The card's badge reads `word` in `tone` (classes ``badge tone-<tone>``) within `timeout`
    milliseconds."""
    badge = card.locator(".badge").first
    try:
        expect(badge).to_have_class(re.compile(rf"\bbadge\b.*\btone-{tone}\b"), timeout=timeout)
        expect(badge).to_have_text(word, timeout=timeout)
    except AssertionError:
        raise AssertionError(
            f"the badge should read {word!r} in tone {tone!r}; {describe_badge(card)}"
        ) from None


def never_says(card: Locator, words: Iterable[str]) -> None:
    """No badge or field of the card reads exactly one of `words`."""
    shown = [text.strip() for text in card.locator(f"{BADGES}, .card-fields td").all_inner_texts()]
    wrong = [text for text in shown if text in set(words)]
    assert not wrong, f"the card says {wrong} (its badge and fields: {shown})"


def no_raw_keys(page: Page) -> None:
    """No badge anywhere on the page shows a status key instead of a word."""
    shown = [text.strip() for text in page.locator(BADGES).all_inner_texts()]
    raw = [text for text in shown if text in TONES or RAW_KEY.fullmatch(text)]
    assert not raw, f"badges show raw status keys: {raw}"


def links_are_http(card: Locator) -> None:
    """The card has links (``a.card-link``), each to an http(s) address."""
    hrefs = [link.get_attribute("href") or "" for link in card.locator("a.card-link").all()]
    assert hrefs, "the card has no links (a.card-link)"
    bad = [href for href in hrefs if not re.match(r"https?://", href)]
    assert not bad, f"card links that are not http(s): {bad}"


def page_speaks(page: Page, lang: str) -> None:
    """The page's own labels are in `lang` (its ``<html lang>``, which the console sets with
    them)."""
    said = page.evaluate("() => document.documentElement.lang")
    hint = page.locator("#input").get_attribute("placeholder")
    assert said.split("-")[0] == lang, (
        f"the page speaks {said!r}, not {lang!r} (the command box says {hint!r})"
    )


def placeholder_fits(page: Page, selector: str = "#input") -> None:
    """The input's placeholder is shown whole. Chromium does not count a placeholder in an
    input's scrollWidth, so its text is also measured in the input's font."""
    box = page.locator(selector)
    scroll, client, text, room = box.evaluate(
        """n => {
            const style = getComputedStyle(n);
            const ctx = document.createElement("canvas").getContext("2d");
            ctx.font = style.font;
            const room = n.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight);
            return [n.scrollWidth, n.clientWidth, ctx.measureText(n.placeholder).width, room];
        }"""
    )
    assert scroll <= client and text <= room, (
        f"the placeholder {box.get_attribute('placeholder')!r} is cut: {text:.0f}px of text in"
        f" {room:.0f}px (scrollWidth {scroll}, clientWidth {client})"
    )


def top_share(page: Page, selectors: Iterable[str]) -> float:
    """How much of the viewport's height lies above the lower edge of the lowest of the
    visible elements `selectors` name (0 when none is shown)."""
    bottom = page.evaluate(
        """selectors => Math.max(0, ...selectors
            .map((s) => document.querySelector(s))
            .filter((n) => n && n.getClientRects().length > 0)
            .map((n) => n.getBoundingClientRect().bottom))""",
        list(selectors),
    )
    height = page.viewport_size["height"] if page.viewport_size else 1
    return float(bottom) / height
