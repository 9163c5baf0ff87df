"""The whole product as a user meets it: `tocsin demo`, `tocsin alert fire --demo`, the web console.

The real demo runs in a subprocess; an alert is fired from the command line; headless Chromium
opens the console, tries to acknowledge the card as a lead (refused), then as an SRE (the card
changes in place), types commands, fires another alert from the page, and the server's transcript
is checked against what the page showed. Skipped only when Chromium is missing and CI != "true".
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.e2e.conftest import REPO_ROOT, ManagedProcess, ProcessManager, require_program

pytestmark = pytest.mark.e2e

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
CLI_TIMEOUT = 60.0
"""Seconds for `tocsin alert fire` to finish."""
HTTP_TIMEOUT = 5.0
UI_TIMEOUT = 20_000
"""Milliseconds to wait for the page to show something that needs the server (cards, replies)."""
MAX_DEMO_PRESSES = 10
"""The page's demo alert is random; one that joins an open incident adds no card, so press again."""
DENIAL = re.compile(r"You may not acknowledge .+: none of your roles \(lead\) grants it\.")
FIRED = re.compile(r"Demo alert sent: .* incident #(\d+|\?)")


@pytest.fixture
def chromium() -> str:
    """Checked before any process starts: skips, or fails when CI=true, without Chromium."""
    return require_program("chromium")


@pytest.fixture
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def start_demo(processes: ProcessManager, port: int, data_dir: Path) -> ManagedProcess:
    demo = processes.start(
        "tocsin-demo",
        [
            sys.executable,
            "-m",
            "bot.cli",
            "demo",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    demo.wait_http(f"http://127.0.0.1:{port}/readyz")
    return demo


def fire_from_cli(demo: ManagedProcess, port: int, data_dir: Path) -> int:
    """`tocsin alert fire --demo`, as a user would type it; returns the incident it opened."""
    argv = [
        sys.executable,
        "-m",
        "bot.cli",
        "alert",
        "fire",
        "--demo",
        "--data-dir",
        str(data_dir),
        "--url",
        f"http://127.0.0.1:{port}/api/v1/alerts/generic",
    ]
    done = subprocess.run(
        argv,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    output = f"$ {' '.join(argv)}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    if done.returncode != 0:
        demo.fail(f"tocsin alert fire exited with {done.returncode}\n{output}")
    # "200 in 12 ms: {...the ingest result...}"
    _, _, body = done.stdout.strip().partition(": ")
    result = orjson.loads(body)
    assert result["opened"] == 1, output
    [incident] = result["incidents"]
    return int(incident)


def transcript(base_url: str, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base_url}/console/api/transcript",
        params={"chat": "ops", **params},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()
    return messages


def card_message(page: Page, incident: int) -> Locator:
    """The chat message holding the card of `incident` (found by its footer, "Incident #N · …")."""
    footer = page.locator("footer.card-foot", has_text=re.compile(rf"^Incident #{incident} "))
    return page.locator(".msg.kind-card").filter(has=footer)


def button(card: Locator, label: str) -> Locator:
    """The card's button labelled exactly `label` ("Acknowledge" is not "Unacknowledge")."""
    return card.get_by_role("button", name=label, exact=True)


def become(page: Page, user: str, name: str) -> None:
    """Pick `user` in the demo user picker and wait until the page is connected as them."""
    page.select_option("#user-select", user)
    expect(page.locator("#status")).to_contain_text(name, timeout=UI_TIMEOUT)
    expect(page.locator("#status")).to_have_attribute("data-state", "online")


def say(page: Page, text: str) -> None:
    page.fill("#input", text)
    page.press("#input", "Enter")
    expect(page.locator("#input")).to_have_value("")


@pytest.mark.timeout(240)
def test_console_demo_end_to_end(
    browser: Browser,
    processes: ProcessManager,
    free_port: Callable[[], int],
    tmp_path: Path,
) -> None:
    # 1. The demo, exactly as a user starts it.
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "demo"
    demo = start_demo(processes, port, data_dir)

    # 2. An alert fired from the command line opens an incident.
    incident = fire_from_cli(demo, port, data_dir)

    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
            ),
        )
        page.goto(f"{base_url}/console?chat=ops")
        expect(page.locator("#demo-banner")).to_be_visible()
        # The first user is picked on load; wait until that connection is up before switching.
        status = page.locator("#status")
        expect(status).to_have_attribute("data-state", "online", timeout=UI_TIMEOUT)

        # 3. Carol (lead: she may view and approve deploys) sees the card, may not acknowledge it.
        become(page, "carol", "Carol Diaz")
        card = card_message(page, incident)
        expect(card).to_have_count(1, timeout=UI_TIMEOUT)
        badge = card.locator(".badge")
        expect(badge).to_have_text("Triggered")
        button(card, "Acknowledge").click()
        denial = page.locator(".msg-private .msg-text", has_text=DENIAL)
        expect(denial).to_be_visible(timeout=UI_TIMEOUT)
        expect(button(card, "Acknowledge")).to_be_enabled(timeout=UI_TIMEOUT)
        expect(badge).to_have_text("Triggered")
        expect(badge).to_have_attribute("data-tone", "alert")
        expect(card.locator(".card-fields")).to_contain_text("Triggered")
        denial_text = denial.inner_text()

        # 4. Alice (sre) acknowledges; the very same element changes in place.
        become(page, "alice", "Alice Chen")
        expect(card).to_have_count(1, timeout=UI_TIMEOUT)
        expect(page.locator(".msg-text", has_text=DENIAL)).to_have_count(0)  # Carol's alone
        message_id = int(card.get_attribute("data-message-id") or "0")
        card.evaluate("n => { n.tocsinMarker = 'before-ack'; }")
        button(card, "Acknowledge").click()
        expect(badge).to_have_text("Acknowledged", timeout=UI_TIMEOUT)
        expect(badge).to_have_attribute("data-tone", "working")
        expect(card.locator(".card-fields")).to_contain_text("Alice Chen")
        expect(button(card, "Unacknowledge")).to_be_visible()
        expect(
            page.locator(".msg-text", has_text=f"Alice Chen acknowledged incident #{incident}")
        ).to_be_visible(timeout=UI_TIMEOUT)
        assert page.locator(f'[data-message-id="{message_id}"]').count() == 1
        assert card.evaluate("n => n.isConnected && n.tocsinMarker === 'before-ack'") is True

        # 5. Commands typed into the box.
        title = card.locator(".card-title").inner_text()
        say(page, "/incident list")
        listed = re.compile(rf"#{incident} \[P\d\] {re.escape(title)}")
        expect(page.locator(".msg-bot .msg-text", has_text=listed)).to_be_visible(
            timeout=UI_TIMEOUT
        )
        say(page, "/whoami")
        expect(page.locator(".msg-bot .msg-text", has_text="You are Alice Chen")).to_be_visible(
            timeout=UI_TIMEOUT
        )

        # 6. The page's own demo alert button posts a new card. The demo picks one of a few
        # alerts at random; one that joins the open incident (same alertname and service) adds
        # no card, so press again until a new incident opens.
        notices = page.locator(".notice")
        new_incident: int | None = None
        for _ in range(MAX_DEMO_PRESSES):
            before = notices.count()
            page.click("#demo-alert")
            expect(notices).to_have_count(before + 1, timeout=UI_TIMEOUT)
            fired = notices.nth(before)
            expect(fired).to_have_class("notice notice-info")
            match = FIRED.search(fired.inner_text())
            assert match, fired.inner_text()
            if match.group(1) not in ("?", str(incident)):
                new_incident = int(match.group(1))
                break
        assert new_incident is not None, f"{MAX_DEMO_PRESSES} demo alerts opened no new incident"
        new_card = card_message(page, new_incident)
        expect(new_card).to_have_count(1, timeout=UI_TIMEOUT)
        expect(new_card.locator(".badge")).to_have_text("Triggered")
        expect(button(new_card, "Acknowledge")).to_be_visible()
        assert int(new_card.get_attribute("data-message-id") or "0") > message_id
        # The first card is untouched by it.
        expect(badge).to_have_text("Acknowledged")
        assert card.evaluate("n => n.tocsinMarker") == "before-ack"

        # 7. The server agrees with the page.
        public = transcript(base_url)
        by_id = {m["id"]: m for m in public}
        assert by_id[message_id]["card"]["ref"] == f"incident:{incident}"
        assert by_id[message_id]["card"]["status"] == "acknowledged"
        assert any(
            m["kind"] == "card" and m["card"]["ref"] == f"incident:{new_incident}" for m in public
        )
        assert any(m["text"] == f"Alice Chen acknowledged incident #{incident}." for m in public)
        assert all(m["text"] != denial_text for m in public)  # private to Carol
        assert any(m["text"] == denial_text for m in transcript(base_url, user="carol"))

        # 8. A screenshot for people, and no errors in the page.
        screenshot = tmp_path / "console.png"
        page.screenshot(path=screenshot, full_page=True)
        assert screenshot.stat().st_size > 0
        assert problems == []
    finally:
        context.close()

    # The demo shuts down cleanly on SIGTERM, without tracebacks. uvicorn re-raises the signal
    # after its graceful shutdown, so "killed by SIGTERM" is a clean exit; SIGKILL (the fixture's
    # last resort after a hang) is not.
    code = demo.stop()
    stderr = demo.stderr_path.read_text(encoding="utf-8", errors="replace")
    if code not in (0, -signal.SIGTERM) or "Traceback" in stderr:
        demo.fail(f"the demo stopped with exit code {code} or logged a traceback")
