"""A real Alertmanager notifies a real Tocsin; the card appears, then resolves in place."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import ManagedProcess, ProcessManager, TocsinServer, require_program

pytestmark = pytest.mark.e2e

WEBHOOK_TOKEN = "am-webhook-token-Vq7Lx2Kd9Rt4Wz6Hc3"
CONSOLE_TOKEN = "console-token-alice-Pn5Yb8Gs2Jf7Mw4"
ALERT_NAME = "HighErrorRate"
POLL_TIMEOUT = 30.0
HTTP_TIMEOUT = 5.0


def tocsin_config() -> dict[str, Any]:
    return {
        "tocsin": {"secret_key": "e2e-secret-key-Tk3Xv8Qm5Ld2Rz9Wb6", "log_format": "json"},
        "sources": [
            {"name": "am", "kind": "alertmanager", "auth": {"bearer_token": WEBHOOK_TOKEN}},
        ],
        "console": {
            "enabled": True,
            "auth": "token",
            "chats": ["ops"],
            "tokens": {"alice": CONSOLE_TOKEN},
        },
        "users": [
            {"id": "alice", "name": "Alice", "roles": ["sre"], "identities": {"console": "alice"}},
        ],
        "roles": {"sre": {"grants": ["*"]}},
        "routes": [
            {"name": "ops", "matchers": ['alertname=~".+"'], "destinations": ["console:ops"]},
        ],
    }


def alertmanager_config(webhook_url: str, **route: Any) -> dict[str, Any]:
    """Alertmanager sending every alert to Tocsin's webhook; `route` overrides its timing."""
    return {
        "route": {
            "receiver": "tocsin",
            "group_by": ["alertname", "service"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        }
        | route,
        "receivers": [
            {
                "name": "tocsin",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials": WEBHOOK_TOKEN},
                        },
                    }
                ],
            }
        ],
    }


@pytest.fixture
def alertmanager_bin() -> str:
    """Checked before any process starts: skips, or fails when CI=true, without Alertmanager."""
    return require_program("prometheus-alertmanager")


@pytest.fixture
def tocsin(
    alertmanager_bin: str, start_tocsin: Callable[[dict[str, Any]], TocsinServer]
) -> TocsinServer:
    return start_tocsin(tocsin_config())


@pytest.fixture
def alertmanager(
    alertmanager_bin: str,
    tocsin: TocsinServer,
    processes: ProcessManager,
    free_port: Callable[[], int],
    tmp_path: Path,
) -> tuple[ManagedProcess, str]:
    """A real Alertmanager whose only receiver is Tocsin's webhook; returns it and its URL."""
    am_dir = tmp_path / "alertmanager"
    (am_dir / "data").mkdir(parents=True)
    config_file = (am_dir / "alertmanager.yml").resolve()  # a relative path does not work
    webhook = tocsin.url("/api/v1/alerts/alertmanager")
    config_file.write_text(yaml.safe_dump(alertmanager_config(webhook)), encoding="utf-8")
    port = free_port()
    process = processes.start(
        "alertmanager",
        [
            alertmanager_bin,
            f"--config.file={config_file}",
            f"--storage.path={(am_dir / 'data').resolve()}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ],
        cwd=am_dir,
    )
    base_url = f"http://127.0.0.1:{port}"
    process.wait_http(f"{base_url}/-/ready")
    return process, base_url


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def post_alert(client: httpx.Client, am_url: str, starts: datetime, ends: datetime) -> None:
    alert = {
        "labels": {
            "alertname": ALERT_NAME,
            "service": "orders",
            "env": "prod",
            "severity": "critical",
        },
        "annotations": {"summary": "orders: 5xx above 5% for 5 minutes"},
        "startsAt": iso(starts),
        "endsAt": iso(ends),
        "generatorURL": "http://prometheus.invalid/graph",
    }
    response = client.post(f"{am_url}/api/v2/alerts", json=[alert])
    assert response.status_code == 200, (
        f"Alertmanager refused the alert: HTTP {response.status_code} {response.text}"
    )


def transcript(client: httpx.Client, tocsin: TocsinServer) -> list[dict[str, Any]]:
    response = client.get(
        tocsin.url("/console/api/transcript"),
        params={"chat": "ops"},
        headers={"Authorization": f"Bearer {CONSOLE_TOKEN}"},
    )
    assert response.status_code == 200, f"transcript: HTTP {response.status_code} {response.text}"
    messages = response.json()
    assert isinstance(messages, list), f"transcript is not a list: {messages!r}"
    return messages


def alert_cards(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        m
        for m in messages
        if m.get("kind") == "card" and ALERT_NAME in ((m.get("card") or {}).get("title") or "")
    ]


def wait_for_cards(
    client: httpx.Client,
    tocsin: TocsinServer,
    done: Callable[[list[dict[str, Any]]], bool],
    what: str,
    timeout: float = POLL_TIMEOUT,
) -> list[dict[str, Any]]:
    """Poll the transcript until `done(alert cards)`; fails with the last transcript otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        messages = transcript(client, tocsin)
        cards = alert_cards(messages)
        if done(cards):
            return cards
        if time.monotonic() >= deadline:
            pytest.fail(
                f"no {what} in the ops transcript after {timeout}s; last transcript:\n{messages!r}",
                pytrace=False,
            )
        time.sleep(0.25)


def alerts_received(client: httpx.Client, tocsin: TocsinServer) -> float:
    response = client.get(tocsin.url("/metrics"))
    assert response.status_code == 200, f"/metrics: HTTP {response.status_code} {response.text}"
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "tocsin_alerts_received_total"
    )


def test_alertmanager_alert_becomes_a_card_that_resolves_in_place(
    tocsin: TocsinServer, alertmanager: tuple[ManagedProcess, str]
) -> None:
    _, am_url = alertmanager
    started = datetime.now(UTC)
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        post_alert(client, am_url, started, started + timedelta(hours=1))

        cards = wait_for_cards(client, tocsin, lambda cards: bool(cards), "HighErrorRate card")
        assert len(cards) == 1, f"expected one card, got {cards!r}"
        message = cards[0]
        card = message["card"]
        assert card["tier"] == "P0", f"{card!r}"
        assert card["status"] == "triggered", f"{card!r}"
        labels = {button["label"] for button in card["buttons"]}
        assert {"Acknowledge", "Rollback"} <= labels, f"{card['buttons']!r}"

        post_alert(client, am_url, started, datetime.now(UTC) - timedelta(seconds=1))

        def resolved(cards: list[dict[str, Any]]) -> bool:
            return any(
                c["id"] == message["id"] and c["card"]["status"] == "resolved" for c in cards
            )

        wait_for_cards(client, tocsin, resolved, f"resolved card (message {message['id']})")
        # Give a stray second notification time to arrive before counting the cards.
        time.sleep(2.0)
        cards = alert_cards(transcript(client, tocsin))
        assert [c["id"] for c in cards] == [message["id"]], f"a second card was posted: {cards!r}"
        assert cards[0]["card"]["status"] == "resolved", f"{cards[0]!r}"
        assert cards[0]["card"]["buttons"] == [], f"{cards[0]!r}"

        assert alerts_received(client, tocsin) > 0
