"""The console page in real headless Chromium against a real uvicorn server.

The server runs the console app in a background thread with its own event loop; the test posts
cards through the platform in that loop (as the outbox would) and drives the page with
Playwright's sync API. Skipped only when Chromium is missing and CI is not "true".
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from console_support import ConsoleApp, incident_card
from playwright.sync_api import Page, expect, sync_playwright

from bot.model import ActionKind, Destination, Sender, Tier

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
OPS = Destination("console", "ops")
T = TypeVar("T")

pytestmark = pytest.mark.e2e


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1 in a thread, with a loop the test can submit work to."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="console-uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self._socket]))

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` in the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=15)

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "uvicorn did not stop"
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()
        self._socket.close()


@pytest.fixture
def server(make_console: Callable[..., ConsoleApp]) -> Iterator[tuple[ConsoleApp, ServerThread]]:
    if not CHROMIUM.exists() and os.environ.get("CI") != "true":
        pytest.skip(f"{CHROMIUM} is not installed")
    console = make_console(auth="demo")
    with ServerThread(console.app) as running:
        yield console, running


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(locale="en-US")
            yield context.new_page()
            context.close()
        finally:
            browser.close()


def border_colour(page: Page, selector: str) -> str:
    colour: str = page.locator(selector).evaluate("n => getComputedStyle(n).borderLeftColor")
    return colour


def test_console_in_chromium(server: tuple[ConsoleApp, ServerThread], page: Page) -> None:
    console, running = server
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )

    # The page loads, says it is in demo mode, and connects as the first user.
    page.goto(f"{running.url}/console?chat=ops")
    expect(page.locator("#demo-banner")).to_be_visible()
    expect(page.locator("#demo-banner")).to_contain_text("Demo mode")
    expect(page.locator("#status")).to_contain_text("Alice Chen")

    # Pick another user; the page reconnects as them.
    page.select_option("#user-select", "bob")
    expect(page.locator("#status")).to_contain_text("Bob")

    # Type a command, press Enter, see it and the reply.
    page.fill("#input", "/status orders 订单")
    page.press("#input", "Enter")
    expect(page.locator(".msg-text", has_text="ok: /status orders 订单")).to_be_visible()
    command = console.inbound.commands[-1]
    assert command.text == "/status orders 订单"
    assert command.sender == Sender("console", "U-bob", "Bob")

    # Text is text: markup typed by a user is shown, not run.
    page.fill("#input", "<img src=x onerror=alert(1)>")
    page.press("#input", "Enter")
    expect(page.locator(".msg-text", has_text="<img src=x onerror=alert(1)>")).to_be_visible()
    assert page.locator(".msg-text img").count() == 0

    # Cards posted by the core appear live, styled by tier: P0 red, P3 blue-grey.
    p0 = running.call(console.inbound.post(OPS, incident_card(42, Tier.P0)))
    p3 = running.call(console.inbound.post(OPS, incident_card(43, Tier.P3, status="Firing")))
    p0_card = f'[data-message-id="{p0}"] article.card'
    p3_card = f'[data-message-id="{p3}"] article.card'
    expect(page.locator(p0_card)).to_be_visible()
    expect(page.locator(p3_card)).to_be_visible()
    expect(page.locator(p0_card)).to_have_class("card tier-p0")
    expect(page.locator(p0_card)).to_contain_text("订单错误率")
    assert border_colour(page, p0_card) == "rgb(217, 45, 32)"
    assert border_colour(page, p3_card) == "rgb(100, 116, 139)"
    expect(page.locator(f"{p0_card} .tier-badge")).to_have_text("P0")
    expect(page.locator(f"{p0_card} .card-fields")).to_contain_text("orders")
    rollback = page.locator(f"{p0_card} button", has_text="Rollback")
    expect(rollback).to_have_class("btn btn-danger")

    # Remember the message's DOM node to prove the update happens in place.
    node = page.locator(f'[data-message-id="{p0}"]')
    node.evaluate("n => { n.dataset.marker = 'original'; }")

    # A button with a confirmation asks first; dismissing it sends nothing.
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    rollback.click()

    # Pressing Acknowledge reaches the handler, which updates the card in place.
    page.locator(f"{p0_card} button", has_text="Acknowledge").click()
    expect(page.locator(f"{p0_card} .badge.tone-working")).to_have_text("Acknowledged by Bob")
    expect(page.locator(".msg-text", has_text="ack by Bob")).to_be_visible()
    assert dialogs == ["Roll back orders in prod?"]
    [action] = console.inbound.actions
    assert (action.action, action.card_ref) == (ActionKind.ACK, "incident:42")
    assert action.sender == Sender("console", "U-bob", "Bob")
    assert page.locator(f'[data-message-id="{p0}"]').count() == 1
    assert node.evaluate("n => n.isConnected && n.dataset.marker === 'original'") is True
    expect(page.locator(f"{p0_card} button")).to_have_text(["Resolve"])
    expect(page.locator(f"{p0_card} button")).to_be_enabled()

    # The demo alert button posts a card through the same path.
    page.click("#demo-alert")
    expect(page.locator("article.card", has_text="#100 orders")).to_be_visible()

    assert problems == []
