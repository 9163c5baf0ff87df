"""A real Alertmanager's Watchdog keeps Tocsin's heartbeat alive; stopping Alertmanager opens
the blind-monitoring incident, starting it again resolves it.

Alertmanager re-sends the always-firing Watchdog every few seconds (`repeat_interval`); Tocsin
counts each delivery as a beat of `am-prod` and never turns it into a card. With Alertmanager
stopped, no beat comes for interval + grace and the incident opens; once Alertmanager is back
(alerts live in its memory, so the Watchdog is posted again, as Prometheus would re-send it)
the beats return and the card resolves in place.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.conftest import ManagedProcess, ProcessManager, TocsinServer, require_program
from tests.e2e.test_alertmanager import CONSOLE_TOKEN, alertmanager_config, iso, tocsin_config

pytestmark = pytest.mark.e2e

INTERVAL, GRACE = 3, 3
"""Seconds: the heartbeat's interval and grace (Alertmanager re-sends every 2 s)."""
WAIT = 60.0
"""How long each wait may take at most: a bound on the loop, not a measured figure."""
"""Seconds beyond interval + grace for the engine's pass and the card's delivery."""
HTTP_TIMEOUT = 5.0
CARD = "HeartbeatMissing"


def config() -> dict[str, Any]:
    config = tocsin_config()
    config["heartbeats"] = {
        "am-prod": {
            "interval": f"{INTERVAL}s",
            "grace": f"{GRACE}s",
            "watchdog": {"source": "am"},
            "labels": {"service": "monitoring", "severity": "critical"},
        }
    }
    return config


class Alertmanagers:
    """Starts the same Alertmanager (its config and storage) as often as the test needs."""

    def __init__(
        self,
        binary: str,
        processes: ProcessManager,
        free_port: Callable[[], int],
        folder: Path,
        webhook: str,
    ) -> None:
        self.binary, self.processes, self.free_port = binary, processes, free_port
        self.folder = folder.resolve()
        (self.folder / "data").mkdir(parents=True)
        self.config = self.folder / "alertmanager.yml"  # a relative path does not work
        self.config.write_text(
            yaml.safe_dump(
                alertmanager_config(webhook, group_by=["alertname"], repeat_interval="2s")
            ),
            encoding="utf-8",
        )
        self.started = 0

    def start(self) -> tuple[ManagedProcess, str]:
        self.started += 1
        port = self.free_port()
        process = self.processes.start(
            f"alertmanager-{self.started}",
            [
                self.binary,
                f"--config.file={self.config}",
                f"--storage.path={self.folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            cwd=self.folder,
        )
        url = f"http://127.0.0.1:{port}"
        process.wait_http(f"{url}/-/ready")
        return process, url


def post_watchdog(client: httpx.Client, am_url: str) -> None:
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": "Watchdog", "severity": "none"},
        "annotations": {"summary": "An alert that should always be firing"},
        "startsAt": iso(now),
        "endsAt": iso(now + timedelta(hours=1)),
    }
    response = client.post(f"{am_url}/api/v2/alerts", json=[alert])
    assert response.status_code == 200, f"Alertmanager: HTTP {response.status_code} {response.text}"


def heartbeat_row(tocsin: TocsinServer) -> tuple[str, int] | None:
    """(state, beats) of am-prod as Tocsin's database holds it."""
    path = tocsin.config["database"]["url"].split("///", 1)[1]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute("SELECT state, beats FROM heartbeats WHERE name = 'am-prod'").fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def missing_after(tocsin: TocsinServer) -> timedelta:
    """How long after its last beat Tocsin holds am-prod missing from (stored, not timed)."""
    path = tocsin.config["database"]["url"].split("///", 1)[1]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
        last, since = conn.execute(
            "SELECT last_seen_at, missing_since FROM heartbeats WHERE name = 'am-prod'"
        ).fetchone()
    return datetime.fromisoformat(since) - datetime.fromisoformat(last)


def cards(client: httpx.Client, tocsin: TocsinServer) -> list[dict[str, Any]]:
    response = client.get(
        tocsin.url("/console/api/transcript"),
        params={"chat": "ops"},
        headers={"Authorization": f"Bearer {CONSOLE_TOKEN}"},
    )
    assert response.status_code == 200, f"transcript: HTTP {response.status_code} {response.text}"
    return [
        m
        for m in response.json()
        if m.get("kind") == "card" and CARD in ((m.get("card") or {}).get("title") or "")
    ]


def wait(what: str, timeout: float, check: Callable[[], Any]) -> Any:
    """Poll `check` until it returns something true; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not seen within {timeout}s", pytrace=False)
        time.sleep(0.25)


def test_a_stopped_alertmanager_opens_the_blind_monitoring_incident_and_its_return_resolves_it(
    start_tocsin: Callable[[dict[str, Any]], TocsinServer],
    processes: ProcessManager,
    free_port: Callable[[], int],
    tmp_path: Path,
) -> None:
    binary = require_program("prometheus-alertmanager")
    tocsin = start_tocsin(config())
    managers = Alertmanagers(
        binary, processes, free_port, tmp_path / "am", tocsin.url("/api/v1/alerts/alertmanager")
    )
    first, am_url = managers.start()
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        post_watchdog(client, am_url)

        # beats arrive, again and again; the Watchdog never becomes a card
        def beating() -> bool:
            row = heartbeat_row(tocsin)
            return row is not None and row[0] == "ok" and row[1] >= 3

        wait("three Watchdog beats", WAIT, beating)
        assert cards(client, tocsin) == []

        first.stop()  # monitoring goes blind
        opened = wait(
            "the blind-monitoring card",
            WAIT,
            lambda: [c for c in cards(client, tocsin) if c["card"]["status"] == "triggered"],
        )
        assert len(opened) == 1, opened
        card = opened[0]["card"]
        assert card["tier"] == "P0", card
        assert "Monitoring is blind: no Watchdog from am" in str(card), card
        row = heartbeat_row(tocsin)
        assert row is not None and row[0] == "missing", row
        assert missing_after(tocsin) == timedelta(seconds=INTERVAL + GRACE)

        _, am_url = managers.start()  # Alertmanager is back; Prometheus would re-send
        post_watchdog(client, am_url)
        wait(
            "the blind-monitoring card resolved",
            WAIT,
            lambda: [
                c
                for c in cards(client, tocsin)
                if c["id"] == opened[0]["id"] and c["card"]["status"] == "resolved"
            ],
        )
        assert [c["id"] for c in cards(client, tocsin)] == [opened[0]["id"]], "a second card"
        row = heartbeat_row(tocsin)
        assert row is not None and row[0] == "ok", row
