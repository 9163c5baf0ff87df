"""The HTTP edge: alert webhooks (auth, size, shape), ops endpoints and signed action links."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from adapters.sources.auth import sign
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.links import LinkSigner
from bot.model import ActionKind, Destination
from bot.store.db import Database
from bot.store.migrate import head_revision
from bot.store.tables import alerts, incidents
from tests.support import HMAC_SECRET, TOKEN, RecordingPlatform, make_settings
from tests.unit.test_dispatch import incident

AM_BODY: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}:{alertname="HighErrorRate"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "tocsin",
    "groupLabels": {"alertname": "HighErrorRate"},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "http://am:9093",
    "notification_reason": "new",
    "routeLabels": {},
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighErrorRate",
                "service": "orders",
                "env": "prod",
                "severity": "critical",
            },
            "annotations": {"summary": "5xx over 5%"},
            "startsAt": "2026-01-05T02:59:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom/graph",
            "fingerprint": "c0ffee0000000001",
        }
    ],
}


@pytest.fixture
async def client(tocsin: Tocsin) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=tocsin.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as http:
        yield http


async def counts(app: Tocsin) -> tuple[int, int]:
    async with app.services.db.connect() as conn:
        n_alerts = (await conn.execute(select(func.count()).select_from(alerts))).scalar_one()
        n_inc = (await conn.execute(select(func.count()).select_from(incidents))).scalar_one()
    return n_alerts, n_inc


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_alertmanager_webhook_opens_an_incident(
    client: httpx.AsyncClient, tocsin: Tocsin
) -> None:
    response = await client.post("/api/v1/alerts/alertmanager", json=AM_BODY, headers=bearer())
    assert response.status_code == 200, response.text
    assert response.json()["opened"] == 1
    again = await client.post("/api/v1/alerts/alertmanager", json=AM_BODY, headers=bearer())
    assert again.json()["deduplicated"] == 1
    assert await counts(tocsin) == (1, 1)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}]
)
async def test_missing_or_forged_token_is_refused(
    client: httpx.AsyncClient, tocsin: Tocsin, headers: dict[str, str]
) -> None:
    response = await client.post("/api/v1/alerts/alertmanager", json=AM_BODY, headers=headers)
    assert response.status_code == 401 and response.json()["error"]
    assert await counts(tocsin) == (0, 0)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'{"alerts": "nope"}', b'{"alerts": [{"labels": {"a": {"b": 1}}}]}'],
)
async def test_malformed_payload_is_refused(
    client: httpx.AsyncClient, tocsin: Tocsin, body: bytes
) -> None:
    response = await client.post("/api/v1/alerts/alertmanager", content=body, headers=bearer())
    assert response.status_code == 400 and response.json()["error"]
    assert await counts(tocsin) == (0, 0)


async def test_oversized_body_is_refused(client: httpx.AsyncClient, tocsin: Tocsin) -> None:
    limit = tocsin.settings.server.max_alert_body_bytes
    big = orjson.dumps({**AM_BODY, "padding": "x" * limit})
    response = await client.post("/api/v1/alerts/alertmanager", content=big, headers=bearer())
    assert response.status_code == 413
    assert f"limit of {limit} bytes (server.max_alert_body_bytes)" in response.json()["error"]
    assert await counts(tocsin) == (0, 0)


async def test_oversized_chunked_body_is_refused(client: httpx.AsyncClient, tocsin: Tocsin) -> None:
    chunk = 1 << 20

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(tocsin.settings.server.max_alert_body_bytes // chunk + 1):
            yield b"x" * chunk

    response = await client.post("/api/v1/alerts/alertmanager", content=chunks(), headers=bearer())
    assert response.status_code == 413


async def test_unknown_source_kind_and_unconfigured_name(client: httpx.AsyncClient) -> None:
    assert (
        await client.post("/api/v1/alerts/nagios", json={}, headers=bearer())
    ).status_code == 404
    response = await client.post(
        "/api/v1/alerts/alertmanager?source=nope", json=AM_BODY, headers=bearer()
    )
    assert response.status_code == 404 and "named 'nope'" in response.json()["error"]


async def test_generic_source_with_hmac(client: httpx.AsyncClient, tocsin: Tocsin) -> None:
    body = orjson.dumps(
        {
            "name": "QueueBacklog",
            "severity": "warning",
            "service": "orders",
            "environment": "prod",
            "summary": "12k orders waiting",
        }
    )
    now = int(time.time())
    good = {"X-Tocsin-Signature": sign(HMAC_SECRET, body, now)}
    response = await client.post("/api/v1/alerts/generic", content=body, headers=good)
    assert response.status_code == 200 and response.json()["opened"] == 1
    stale = {"X-Tocsin-Signature": sign(HMAC_SECRET, body, now - 900)}
    assert (
        await client.post("/api/v1/alerts/generic", content=body, headers=stale)
    ).status_code == 401
    forged = {"X-Tocsin-Signature": sign("other", body, now)}
    assert (
        await client.post("/api/v1/alerts/generic", content=body, headers=forged)
    ).status_code == 401


async def test_grafana_webhook(client: httpx.AsyncClient, tocsin: Tocsin) -> None:
    body = {
        "receiver": "tocsin",
        "status": "firing",
        "orgId": 1,
        "groupKey": "g",
        "version": "1",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "",
        "title": "[FIRING:1]",
        "state": "alerting",
        "message": "",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DiskFull", "service": "orders"},
                "annotations": {},
                "startsAt": "2026-01-05T02:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": "ab",
                "silenceURL": "",
                "dashboardURL": "http://g/d/1",
                "panelURL": "",
                "values": {"A": 97.0},
                "valueString": "A=97",
            }
        ],
    }
    response = await client.post("/api/v1/alerts/grafana", json=body, headers=bearer())
    assert response.status_code == 200 and response.json()["opened"] == 1


async def test_health_ready_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    await client.post("/api/v1/alerts/alertmanager", json=AM_BODY, headers=bearer())
    await client.post("/api/v1/alerts/alertmanager", json=AM_BODY, headers={})
    text = (await client.get("/metrics")).text
    assert 'tocsin_alerts_received_total{source="am"} 1.0' in text
    assert 'tocsin_alert_requests_rejected_total{reason="AuthenticationError"} 1.0' in text
    assert "tocsin_outbox_depth" in text and "tocsin_command_seconds" in text


async def test_readyz_reports_an_unmigrated_database(tmp_path: Any) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    app = bootstrap(make_settings(), database=db, platforms={"fake": RecordingPlatform()})
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/readyz")
    await db.dispose()
    assert response.status_code == 503 and f"needs {head_revision()}" in response.json()["database"]


# -- signed action links --------------------------------------------------------------------


async def link_for(
    app: Tocsin, number: int, chat: str, action: ActionKind = ActionKind.ACK, value: str = ""
) -> str:
    settings = app.services.settings.tocsin
    links = LinkSigner(settings.secret_key, settings.public_url)
    token = links.token(
        action,
        f"incident:{number}",
        value,
        str(Destination("fake", chat)),
        chat[1:] if chat.startswith("@") else "",
        app.services.clock.now(),
    )
    return f"/a/{token}"


async def fire(client: httpx.AsyncClient) -> int:
    response = await client.post("/api/v1/alerts/alertmanager", json=AM_BODY, headers=bearer())
    return int(response.json()["incidents"][0])


async def test_direct_message_link_acts_once_as_its_recipient(
    client: httpx.AsyncClient, tocsin: Tocsin
) -> None:
    number = await fire(client)
    url = await link_for(tocsin, number, "@alice")
    page = await client.get(url)
    assert page.status_code == 200 and "<form" in page.text and "alice" in page.text
    assert (await incident(tocsin, number)).status == "triggered"  # GET never acts
    done = await client.post(url)
    assert done.status_code == 200 and "Alice acknowledged" in done.text
    assert (await incident(tocsin, number)).status == "acknowledged"
    again = await client.post(url)
    assert again.status_code == 409 and "already used" in again.text


async def test_link_for_someone_without_the_grant_changes_nothing(
    client: httpx.AsyncClient, tocsin: Tocsin
) -> None:
    number = await fire(client)
    done = await client.post(await link_for(tocsin, number, "@carol"))
    assert done.status_code == 403 and "may not" in done.text
    assert (await incident(tocsin, number)).status == "triggered"


async def test_group_link_requires_sign_in(db: Database, clock: FakeClock) -> None:
    settings = make_settings(console={"enabled": False, "tokens": {"alice": "alice-token-123"}})
    app = bootstrap(settings, clock=clock, database=db, platforms={"fake": RecordingPlatform()})
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as http:
        number = await fire(http)
        url = await link_for(app, number, "ops")
        assert "sign in" in (await http.get(url)).text.lower()
        assert (await http.post(url)).status_code == 401
        assert (await http.post(url, data={"token": "wrong"})).status_code == 401
        done = await http.post(url, data={"token": "alice-token-123"})
        assert done.status_code == 200 and "Alice acknowledged" in done.text


async def test_tampered_and_expired_links_are_refused(
    client: httpx.AsyncClient, tocsin: Tocsin, clock: FakeClock
) -> None:
    number = await fire(client)
    url = await link_for(tocsin, number, "@alice")
    body, mac = url.split(".")
    tampered = body[:-2] + ("AA" if not body.endswith("AA") else "BB") + "." + mac
    assert (await client.post(tampered)).status_code == 403
    clock.advance(timedelta(hours=25))
    expired = await client.post(url)
    assert expired.status_code == 403 and "expired" in expired.text
