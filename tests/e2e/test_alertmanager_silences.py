"""Silences both ways with a real Alertmanager: Silence on a card makes a silence amtool lists
and Alertmanager applies (the alert is suppressed, so it is not notified), Unsilence expires it;
a silence added with amtool shows on the card, and expiring it with amtool lifts the card's."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import ManagedProcess, ProcessManager, TocsinServer, require_program
from tests.e2e.test_alertmanager import (
    ALERT_NAME,
    CONSOLE_TOKEN,
    HTTP_TIMEOUT,
    alert_cards,
    alertmanager_config,
    post_alert,
    tocsin_config,
    transcript,
)

pytestmark = pytest.mark.e2e

WAIT = 45.0
"""Seconds any one step may take: a poll of Alertmanager every second, cards every round."""


@pytest.fixture
def programs() -> tuple[str, str]:
    """Checked before any process starts: skips, or fails when CI=true, without them."""
    return require_program("prometheus-alertmanager"), require_program("amtool")


@pytest.fixture
def am_port(free_port: Callable[[], int]) -> int:
    return free_port()


@pytest.fixture
def tocsin(
    programs: tuple[str, str],
    am_port: int,
    start_tocsin: Callable[[dict[str, Any]], TocsinServer],
) -> TocsinServer:
    config = tocsin_config()
    config["sources"][0]["api"] = {"url": f"http://127.0.0.1:{am_port}", "poll_interval": "1s"}
    return start_tocsin(config)


@pytest.fixture
def alertmanager(
    programs: tuple[str, str],
    am_port: int,
    tocsin: TocsinServer,
    processes: ProcessManager,
    tmp_path: Path,
) -> tuple[ManagedProcess, str]:
    """A real Alertmanager, on the port Tocsin's `api.url` names, notifying Tocsin."""
    am_dir = tmp_path / "alertmanager"
    (am_dir / "data").mkdir(parents=True)
    config_file = (am_dir / "alertmanager.yml").resolve()
    webhook = tocsin.url("/api/v1/alerts/alertmanager")
    config_file.write_text(yaml.safe_dump(alertmanager_config(webhook)), encoding="utf-8")
    process = processes.start(
        "alertmanager",
        [
            programs[0],
            f"--config.file={config_file}",
            f"--storage.path={(am_dir / 'data').resolve()}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ],
        cwd=am_dir,
    )
    base_url = f"http://127.0.0.1:{am_port}"
    process.wait_http(f"{base_url}/-/ready")
    return process, base_url


class Amtool:
    def __init__(self, binary: str, url: str, home: Path) -> None:
        self.binary, self.url, self.home = binary, url, home

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            [self.binary, f"--alertmanager.url={self.url}", *args],
            capture_output=True,
            text=True,
            timeout=30,
            env={"HOME": str(self.home), "PATH": "/usr/bin:/bin"},
            check=False,
        )
        assert done.returncode == 0, f"amtool {' '.join(args)}: {done.stderr}{done.stdout}"
        return done.stdout

    def active(self) -> list[dict[str, Any]]:
        """The silences amtool lists (active ones, as it lists by default)."""
        found = json.loads(self("silence", "query", "-o", "json") or "[]")
        assert isinstance(found, list), found
        return found


class Console:
    """A console tab signed in as alice, pressing buttons on the ops chat's cards."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.requests = 0

    def press(self, message: dict[str, Any], action: str) -> None:
        button = next(
            (b for b in message["card"]["buttons"] if b["action"] == action),
            None,
        )
        assert button is not None, f"no {action} button on {message['card']!r}"
        self.requests += 1
        request_id = f"press-{self.requests}"
        self.ws.send(
            json.dumps(
                {
                    "type": "action",
                    "message_id": message["id"],
                    "action": action,
                    "value": button["value"],
                    "card_ref": message["card"]["ref"],
                    "request_id": request_id,
                }
            )
        )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            event = json.loads(self.ws.recv(timeout=WAIT))
            assert event.get("type") != "error", f"{action} refused: {event!r}"
            if event.get("type") == "done" and event.get("request_id") == request_id:
                assert event["ok"], f"{action} not done: {event!r}"
                return
        pytest.fail(f"no answer to {action} in {WAIT}s", pytrace=False)


@pytest.fixture
def console(tocsin: TocsinServer) -> Iterator[Console]:
    url = tocsin.url("/console/ws?chat=ops").replace("http://", "ws://")
    with connect(url, open_timeout=HTTP_TIMEOUT) as ws:
        ws.send(json.dumps({"type": "hello", "token": CONSOLE_TOKEN}))
        hello = json.loads(ws.recv(timeout=WAIT))
        assert hello["type"] == "history", hello
        yield Console(ws)


def wait_for(what: str, probe: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Poll `probe` until it gives something truthy; fails with what it gave last."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() >= deadline:
            pytest.fail(f"no {what} after {timeout}s; last: {got!r}", pytrace=False)
        time.sleep(0.25)


def shown(message: dict[str, Any]) -> str:
    card = message["card"]
    return " ".join(f"{f['label']}: {f['value']}" for f in card["fields"])


def test_silences_both_ways_with_a_real_alertmanager(
    tocsin: TocsinServer,
    alertmanager: tuple[ManagedProcess, str],
    console: Console,
    programs: tuple[str, str],
    tmp_path: Path,
) -> None:
    _, am_url = alertmanager
    amtool = Amtool(programs[1], am_url, tmp_path)
    started = datetime.now(UTC)
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:

        def card() -> dict[str, Any] | None:
            cards = alert_cards(transcript(client, tocsin))
            return cards[0] if cards else None

        def am_alert() -> dict[str, Any]:
            answer = client.get(f"{am_url}/api/v2/alerts")
            assert answer.status_code == 200, answer.text
            [alert] = [a for a in answer.json() if a["labels"]["alertname"] == ALERT_NAME]
            return dict(alert)

        post_alert(client, am_url, started, started + timedelta(hours=1))
        message = wait_for("HighErrorRate card", card)

        # Silence on the card: a silence in Alertmanager, by the person, suppressing the alert
        console.press(message, "silence")
        [made] = wait_for("silence in amtool", amtool.active)
        assert made["createdBy"] == "Alice", made
        assert "Tocsin #" in made["comment"], made
        matchers = {m["name"]: m["value"] for m in made["matchers"]}
        assert matchers.get("alertname") == ALERT_NAME, made
        wait_for("suppressed alert", lambda: am_alert()["status"]["state"] == "suppressed")
        assert made["id"] in am_alert()["status"]["silencedBy"]
        wait_for(
            "silence id on the card",
            lambda: (c := card()) and made["id"][:8] in shown(c) and c,
        )

        # Unsilence: expired in Alertmanager, the alert is notified again
        console.press(wait_for("card", card), "unsilence")
        wait_for("no active silence", lambda: amtool.active() == [])
        wait_for("active alert", lambda: am_alert()["status"]["state"] == "active")

        # A silence made with amtool shows on the card, and lifts with it
        silence_id = amtool(
            "silence",
            "add",
            f"alertname={ALERT_NAME}",
            "service=orders",
            "--author=bob",
            "--comment=database failover",
            "--duration=2h",
        ).strip()
        found = wait_for(
            "the amtool silence on the card",
            lambda: (c := card()) and "Silenced in Alertmanager by bob" in shown(c) and c,
        )
        assert found["card"]["status"] == "silenced", found["card"]
        assert silence_id[:8] in shown(found), shown(found)

        amtool("silence", "expire", silence_id)
        lifted = wait_for(
            "the card's silence lifted",
            lambda: (c := card()) and c["card"]["status"] != "silenced" and c,
        )
        assert "Silenced in Alertmanager" not in shown(lifted), shown(lifted)
