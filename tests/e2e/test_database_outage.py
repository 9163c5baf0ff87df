"""PostgreSQL crashes under a real Tocsin taking alerts, then comes back.

A private cluster (see `private_postgres`) backs a `tocsin run` process; two senders post
Alertmanager webhooks, each alert new, while the cluster is stopped hard (``pg_ctl stop -m
immediate``) and started again. Senders must get 200 or 503 with `Retry-After`, never a 500;
`/readyz` says 503 during the outage; the server's log carries the outage in a couple of lines,
not a traceback per request or pass; and every alert answered 200 is in the database.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.store.outage import RETRY_MAX, RETRY_MIN
from tests.e2e.conftest import TocsinServer
from tests.e2e.private_postgres import PrivateCluster, server_binaries

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

WEBHOOK_TOKEN = "outage-webhook-token-Hs4Ny7Cq2Vk9Lr5"
WAIT = 60.0
"""Seconds any one phase may take before the test gives up (a bound, not a measurement)."""
MAX_REQUESTS = 20_000
"""Requests one sender makes at most, whatever happens."""
ENOUGH = 10
"""Answers of a kind to see before moving to the next phase."""
REFUSALS = 100
"""503 answers to see before the cluster starts again (an outage of a second or so)."""


@pytest.fixture
def cluster(free_port: Callable[[], int]) -> Iterator[PrivateCluster]:
    """A private PostgreSQL cluster, started, holding an empty `tocsin` database."""
    made = PrivateCluster(server_binaries(), free_port())
    try:
        made.init()
        made.start()
        made.sql("CREATE DATABASE tocsin")
        yield made
    finally:
        made.remove()


def tocsin_config(cluster: PrivateCluster) -> dict[str, Any]:
    return {
        "tocsin": {"secret_key": "outage-secret-key-0123456789abcdef", "log_format": "json"},
        "database": {"url": cluster.url("tocsin"), "auto_migrate": True, "pool_size": 4},
        "sources": [
            {"name": "am", "kind": "alertmanager", "auth": {"bearer_token": WEBHOOK_TOKEN}},
        ],
        "console": {"enabled": True, "chats": ["ops"]},
        "users": [
            {"id": "alice", "name": "Alice", "roles": ["sre"], "identities": {"console": "alice"}},
        ],
        "roles": {"sre": {"grants": ["*"]}},
        "routes": [
            {"name": "ops", "matchers": ['alertname=~".+"'], "destinations": ["console:ops"]},
        ],
    }


def webhook(fingerprint: str) -> dict[str, Any]:
    """An Alertmanager notification of one alert that Tocsin has never seen."""
    labels = {"alertname": "DiskFull", "service": "orders", "instance": fingerprint}
    return {
        "version": "4",
        "groupKey": '{}:{alertname="DiskFull"}',
        "status": "firing",
        "receiver": "tocsin",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "disk almost full"},
                "startsAt": "2026-01-05T02:59:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": fingerprint,
            }
        ],
    }


@dataclass
class Answer:
    fingerprint: str
    status: int
    """The HTTP status, or 0 when the request got no answer at all."""
    retry_after: str | None = None
    body: str = ""


@dataclass
class Senders:
    """Threads posting new alerts in a loop until told to stop; they keep every answer."""

    url: str
    count: int = 2
    answers: list[Answer] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for n in range(self.count):
            thread = threading.Thread(target=self._send, args=(f"s{n}-",), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=WAIT)

    def seen(self, status: int) -> int:
        return sum(1 for a in list(self.answers) if a.status == status)

    def _send(self, prefix: str) -> None:
        headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
        with httpx.Client(timeout=10.0) as http:
            for n in range(MAX_REQUESTS):
                if self.stopping.is_set():
                    return
                fingerprint = f"{prefix}{n:06d}"
                try:
                    response = http.post(self.url, json=webhook(fingerprint), headers=headers)
                except httpx.HTTPError as exc:
                    self.answers.append(Answer(fingerprint, 0, body=repr(exc)))
                    continue
                self.answers.append(
                    Answer(
                        fingerprint,
                        response.status_code,
                        response.headers.get("retry-after"),
                        response.text,
                    )
                )
                if response.status_code != 200:
                    time.sleep(0.02)  # a refused sender waits a little (not Retry-After: tests)


def wait_for(server: TocsinServer, what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not done():
        if time.monotonic() > deadline:
            server.process.fail(f"gave up waiting {WAIT:g} s for {what}")
        time.sleep(0.05)


def metric(server: TocsinServer, name: str, **labels: str) -> float | None:
    text = httpx.get(server.url("/metrics"), timeout=5.0).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def log_lines(server: TocsinServer) -> list[str]:
    text = server.process.stderr_path.read_text(encoding="utf-8", errors="replace")
    return text.splitlines()


def events(lines: list[str]) -> list[dict[str, Any]]:
    parsed = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            parsed.append(entry)
    return parsed


def test_alerts_are_refused_with_503_during_a_database_crash_and_none_is_lost(
    cluster: PrivateCluster, start_tocsin: Callable[[dict[str, Any]], TocsinServer]
) -> None:
    server = start_tocsin(tocsin_config(cluster))
    senders = Senders(server.url("/api/v1/alerts/alertmanager"))
    senders.start()
    try:
        wait_for(server, "alerts stored before the crash", lambda: senders.seen(200) >= ENOUGH)
        log_before = len(log_lines(server))
        cluster.stop("immediate")  # mid-ingest: both senders are posting
        wait_for(server, "503 answers during the outage", lambda: senders.seen(503) >= REFUSALS)
        ready = httpx.get(server.url("/readyz"), timeout=10.0)
        database_up = metric(server, "tocsin_database_up")
        ok_before_restart = senders.seen(200)
        cluster.start()
        wait_for(
            server,
            "alerts stored after the restart",
            lambda: senders.seen(200) >= ok_before_restart + ENOUGH,
        )
    finally:
        senders.stop()
    server.process.wait_http(server.url("/readyz"), timeout=WAIT)

    answers = list(senders.answers)
    odd = [a for a in answers if a.status not in (200, 503)]
    assert not odd, f"answers other than 200 or 503: {odd[:5]}"
    refused = [a for a in answers if a.status == 503]
    for answer in refused:
        assert answer.retry_after is not None and answer.retry_after.isdigit(), answer
        assert RETRY_MIN <= int(answer.retry_after) <= RETRY_MAX
        assert json.loads(answer.body) == {"error": "database unavailable, retry later"}
    assert ready.status_code == 503, ready.text
    assert ready.json()["status"] == "unavailable"
    assert database_up == 0
    assert metric(server, "tocsin_database_up") == 1
    assert metric(server, "tocsin_requests_refused_total", reason="database") == len(refused)

    # The outage is in the log as a start and an end, with no traceback or error anywhere.
    lines = log_lines(server)
    assert not [line for line in lines if "Traceback" in line or '"exception"' in line]
    after = events(lines[log_before:])
    assert not [e for e in after if e.get("level") in ("error", "critical")], after
    about = [e for e in after if str(e.get("event", "")).startswith("database ")]
    assert about and len(about) <= 4, about
    assert about[0]["event"] == "database unavailable" and about[0]["level"] == "warning"
    assert about[-1]["event"] == "database available again" and about[-1]["level"] == "info"
    assert sum(e.get("requests_refused", 0) for e in about) == len(refused)
    assert len(lines) - log_before <= 8, "\n".join(lines[log_before:])

    stored = set(cluster.sql("SELECT fingerprint FROM alerts", database="tocsin"))
    answered_ok = {a.fingerprint for a in answers if a.status == 200}
    assert answered_ok - stored == set(), "alerts answered 200 but not stored"
