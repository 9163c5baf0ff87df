"""Beats over HTTP (`POST /api/v1/heartbeats/<name>`) and Alertmanager's Watchdog as a beat."""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from adapters.sources.auth import sign
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.heartbeats.store import rows
from bot.store.db import Database
from bot.store.tables import alerts, heartbeats, incidents
from tests.support import TOKEN, RecordingPlatform, make_settings, migrated
from tests.unit.test_heartbeats import BEAT_TOKEN, heartbeat_config
from tests.unit.test_web import AM_BODY

SIGNING = "beat-hmac-Tz6Qv3Lw9Xk2Rn7Hd4Jc8Bm5"
URL = "/api/v1/heartbeats/"

WATCHDOG: dict[str, Any] = {
    "status": "firing",
    "labels": {"alertname": "Watchdog", "severity": "none"},
    "annotations": {"summary": "An alert that should always be firing"},
    "startsAt": "2026-01-05T02:00:00Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://prom/graph",
    "fingerprint": "7a7c0d0d0d0d0d01",
}


def config() -> dict[str, Any]:
    beats = heartbeat_config()
    beats["signed-job"] = {"interval": "10m", "auth": {"hmac_secret": SIGNING}}
    beats["url-job"] = {"interval": "10m", "auth": {"query_token": SIGNING}}
    return beats


@pytest.fixture
async def app(db: Database, clock: FakeClock, chat: RecordingPlatform) -> Tocsin:
    settings = make_settings(heartbeats=config())
    return bootstrap(settings, clock=clock, platforms={"fake": chat}, database=db)


@pytest.fixture
async def client(app: Tocsin) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as http:
        yield http


async def stored(app: Tocsin) -> dict[str, Any]:
    async with app.services.db.connect() as conn:
        return await rows(conn)


async def count(app: Tocsin, table: Any) -> int:
    async with app.services.db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


# -- POST /api/v1/heartbeats/<name> ----------------------------------------------------------


async def test_a_beat_may_carry_its_token_in_the_url(
    client: httpx.AsyncClient, app: Tocsin
) -> None:
    refused = await client.post(URL + "url-job?token=guessed")
    assert refused.status_code == 401 and "invalid token" in refused.json()["error"]
    assert "url-job" not in await stored(app)

    answer = await client.post(URL + f"url-job?token={SIGNING}")
    assert answer.status_code == 200, answer.text
    assert "url-job" in await stored(app)


async def test_a_beat_with_the_bearer_token_is_stored_before_the_answer(
    client: httpx.AsyncClient, app: Tocsin, clock: FakeClock
) -> None:
    headers = {"Authorization": f"Bearer {BEAT_TOKEN}"}
    answer = await client.post(URL + "nightly-backup", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"name": "nightly-backup", "last_seen_at": clock.now().isoformat()}
    clock.advance(timedelta(hours=1))
    assert (await client.post(URL + "nightly-backup", headers=headers)).status_code == 200
    row = (await stored(app))["nightly-backup"]
    assert (row.state, row.last_seen_at, row.last_via, row.beats) == (
        "ok",
        clock.now(),
        "http",
        2,
    )


async def test_a_signed_beat_counts_and_a_forged_or_stale_one_changes_nothing(
    client: httpx.AsyncClient, app: Tocsin
) -> None:
    body = b'{"job": "export"}'
    now = int(time.time())
    good = {"X-Tocsin-Signature": sign(SIGNING, body, now)}
    assert (await client.post(URL + "signed-job", content=body, headers=good)).status_code == 200
    forged = {"X-Tocsin-Signature": sign("not-the-secret-at-all-Qx7Lw2", body, now)}
    stale = {"X-Tocsin-Signature": sign(SIGNING, body, now - 3600)}
    other_body = await client.post(URL + "signed-job", content=b"{}", headers=good)
    for headers in (forged, stale, {}):
        refused = await client.post(URL + "signed-job", content=body, headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]
    assert other_body.status_code == 401
    assert (
        "stale or replayed"
        in (await client.post(URL + "signed-job", content=body, headers=stale)).json()["error"]
    )
    assert (await stored(app))["signed-job"].beats == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN}"}],
)
async def test_missing_or_wrong_credentials_are_refused(
    client: httpx.AsyncClient, app: Tocsin, headers: dict[str, str]
) -> None:
    # the alert sources' token is not this heartbeat's
    answer = await client.post(URL + "nightly-backup", headers=headers)
    assert answer.status_code == 401 and answer.json()["error"]
    assert await count(app, heartbeats) == 0


async def test_unknown_names_watchdog_only_heartbeats_and_other_methods_are_refused(
    client: httpx.AsyncClient, app: Tocsin
) -> None:
    headers = {"Authorization": f"Bearer {BEAT_TOKEN}"}
    unknown = await client.post(URL + "nosuch", headers=headers)
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "no heartbeat named 'nosuch' is configured"
    watchdog_only = await client.post(URL + "am-prod", headers=headers)
    assert watchdog_only.status_code == 403
    assert "heartbeats.am-prod.auth" in watchdog_only.json()["error"]
    get = await client.get(URL + "nightly-backup", headers=headers)
    assert get.status_code == 405 and get.headers["allow"] == "POST"
    big = await client.post(URL + "nightly-backup", content=b"x" * 70_000, headers=headers)
    assert big.status_code == 413
    assert await count(app, heartbeats) == 0


# -- the Watchdog ----------------------------------------------------------------------------


def am_body(*items: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(AM_BODY)
    body["alerts"] = [copy.deepcopy(item) for item in items]
    return body


async def test_a_watchdog_is_a_beat_and_never_an_alert_while_the_rest_is_ingested(
    client: httpx.AsyncClient, app: Tocsin, clock: FakeClock
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = am_body(WATCHDOG, AM_BODY["alerts"][0])
    answer = await client.post("/api/v1/alerts/alertmanager", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["heartbeats"] == 1 and answer.json()["opened"] == 1
    assert answer.json()["received"] == 1
    row = (await stored(app))["am-prod"]
    assert (row.state, row.last_seen_at, row.last_via, row.beats) == ("ok", clock.now(), "am", 1)
    async with app.services.db.connect() as conn:
        names = (await conn.execute(select(alerts.c.name))).scalars().all()
    assert names == ["HighErrorRate"]
    # the Watchdog alone, again and again: beats, never an incident
    for _ in range(3):
        again = await client.post(
            "/api/v1/alerts/alertmanager", json=am_body(WATCHDOG), headers=headers
        )
        assert again.json()["heartbeats"] == 1 and again.json()["received"] == 0
    assert (await stored(app))["am-prod"].beats == 4
    assert await count(app, incidents) == 1


async def test_a_resolved_watchdog_is_not_a_beat(client: httpx.AsyncClient, app: Tocsin) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    resolved = {**WATCHDOG, "status": "resolved", "endsAt": "2026-01-05T02:59:00Z"}
    answer = await client.post(
        "/api/v1/alerts/alertmanager", json=am_body(resolved), headers=headers
    )
    assert answer.status_code == 200 and answer.json()["heartbeats"] == 0
    assert await count(app, heartbeats) == 0 and await count(app, alerts) == 0


async def test_a_watchdog_from_a_source_no_heartbeat_watches_is_an_alert_as_before(
    client: httpx.AsyncClient, app: Tocsin
) -> None:
    body = {
        "receiver": "tocsin",
        "status": "firing",
        "groupKey": "g",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Watchdog"},
                "startsAt": "2026-01-05T02:00:00Z",
                "fingerprint": "ab",
            }
        ],
    }
    answer = await client.post(
        "/api/v1/alerts/grafana", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["opened"] == 1 and "heartbeats" not in answer.json()
    assert await count(app, heartbeats) == 0


# -- a database outage -----------------------------------------------------------------------


async def test_beats_are_refused_with_503_while_the_database_is_away(
    tmp_path: Path, clock: FakeClock, chat: RecordingPlatform
) -> None:
    (tmp_path / "data").mkdir()
    async with migrated(f"sqlite+aiosqlite:///{tmp_path / 'data' / 't.db'}") as db:
        app = bootstrap(
            make_settings(heartbeats=config()), clock=clock, platforms={"fake": chat}, database=db
        )
        headers = {"Authorization": f"Bearer {BEAT_TOKEN}"}
        watchdog = am_body(WATCHDOG)
        am = {"Authorization": f"Bearer {TOKEN}"}
        transport = httpx.ASGITransport(app=app.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as http:
            (tmp_path / "data").rename(tmp_path / "away")
            await db.engine.dispose()
            refused = await http.post(URL + "nightly-backup", headers=headers)
            alerts_refused = await http.post(
                "/api/v1/alerts/alertmanager", json=watchdog, headers=am
            )
            (tmp_path / "away").rename(tmp_path / "data")
            beat = await http.post(URL + "nightly-backup", headers=headers)
            alerts_again = await http.post("/api/v1/alerts/alertmanager", json=watchdog, headers=am)
        assert (refused.status_code, alerts_refused.status_code) == (503, 503)
        assert refused.json() == {"error": "database unavailable, retry later"}
        assert "retry-after" in refused.headers
        assert (beat.status_code, alerts_again.status_code) == (200, 200)
        found = await stored(app)
        assert (found["nightly-backup"].beats, found["am-prod"].beats) == (1, 1)
