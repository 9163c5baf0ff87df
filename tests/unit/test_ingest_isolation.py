"""One alert never costs the others: odd values, malformed alerts, unstorable values and huge
bodies, through the real HTTP route, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

import bot.alerts.ingest
from bot.alerts import limits
from bot.alerts.known import KnownAlerts
from bot.bootstrap import Tocsin
from bot.store.keys import bounded
from bot.store.tables import alerts, incidents
from tests.support import TOKEN

PATH = "/api/v1/alerts/alertmanager"
LONG_GROUP_KEY = "{}/{}:" + "{" + ",".join(f'label{i:03}="{"v" * 14}"' for i in range(20)) + "}"


def alert(fingerprint: str, **labels: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "service": "orders", "env": "prod"} | labels,
        "annotations": {"summary": "5xx over 5%"},
        "startsAt": "2026-01-05T02:59:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prom/graph",
        "fingerprint": fingerprint,
    }


GOOD = alert("900d", alertname="CheckoutDown", service="payments", severity="critical")
POISON: dict[str, dict[str, Any]] = {
    "long env": alert("a1", env="e" * 100),
    "long namespace": alert("a2")
    | {"labels": {"alertname": "HighErrorRate", "service": "orders", "namespace": "n" * 200}},
    "long service": alert("a3", service="s" * 200),
    "long fingerprint": alert("f" * 300),
    "NUL in summary and labels": alert("a5", pod="web\x00-1")
    | {"annotations": {"summary": "disk\x00full"}},
}


def body(*items: dict[str, Any], group_key: str = '{}:{alertname="HighErrorRate"}') -> bytes:
    return orjson.dumps({"version": "4", "groupKey": group_key, "alerts": list(items)})


@pytest.fixture
async def client(tocsin: Tocsin) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=tocsin.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as http:
        yield http


async def post(client: httpx.AsyncClient, content: bytes) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return await client.post(PATH, content=content, headers=headers)


async def stored(app: Tocsin) -> dict[str, Any]:
    async with app.services.db.connect() as conn:
        return {r.fingerprint: r for r in (await conn.execute(select(alerts))).all()}


async def incident_of(app: Tocsin, incident_id: int) -> Any:
    async with app.services.db.connect() as conn:
        stmt = select(incidents).where(incidents.c.id == incident_id)
        return (await conn.execute(stmt)).one()


def rejected_count(app: Tocsin, reason: str) -> float | None:
    registry = app.services.metrics.registry
    labels = {"source": "am", "reason": reason}
    return registry.get_sample_value("tocsin_alerts_rejected_total", labels)


@pytest.mark.parametrize("case", sorted(POISON))
async def test_an_odd_alert_is_stored_beside_a_good_one(
    client: httpx.AsyncClient, tocsin: Tocsin, case: str
) -> None:
    odd = POISON[case]

    response = await post(client, body(odd, GOOD, group_key=LONG_GROUP_KEY))

    assert response.status_code == 200, response.text
    assert response.json()["opened"] == 2 and "rejected" not in response.json()
    rows = await stored(tocsin)
    assert set(rows) == {bounded(odd["fingerprint"], limits.FINGERPRINT), "900d"}
    odd_row = rows[bounded(odd["fingerprint"], limits.FINGERPRINT)]
    # the whole value, losslessly (but NUL, which PostgreSQL cannot hold)
    assert odd_row.labels == {k: v.replace("\x00", "\ufffd") for k, v in odd["labels"].items()}
    incident = await incident_of(tocsin, odd_row.incident_id)
    assert len(incident.group_key) <= limits.GROUP_KEY
    assert len(incident.service) <= limits.SERVICE
    assert len(incident.environment) <= limits.ENVIRONMENT
    again = await post(client, body(odd, GOOD, group_key=LONG_GROUP_KEY))
    assert again.json()["deduplicated"] == 2  # the bounded keys de-duplicate the same way


async def test_nul_is_stored_as_the_replacement_character(
    client: httpx.AsyncClient, tocsin: Tocsin
) -> None:
    response = await post(client, body(POISON["NUL in summary and labels"]))

    assert response.status_code == 200, response.text
    row = (await stored(tocsin))["a5"]
    assert row.summary == "disk\ufffdfull" and row.labels["pod"] == "web\ufffd-1"


async def test_long_values_of_one_group_still_group_together(
    client: httpx.AsyncClient, tocsin: Tocsin
) -> None:
    first = alert("g1", service="s" * 200, instance="i-1")
    second = alert("g2", service="s" * 200, instance="i-2")

    await post(client, body(first, group_key=LONG_GROUP_KEY))
    response = await post(client, body(second, group_key=LONG_GROUP_KEY))

    assert response.json()["opened"] == 0 and response.json()["updated"] == 1
    rows = await stored(tocsin)
    assert rows["g1"].incident_id == rows["g2"].incident_id
    incident = await incident_of(tocsin, rows["g1"].incident_id)
    assert incident.service == bounded("s" * 200, limits.SERVICE)


async def test_a_malformed_alert_is_refused_alone_counted_and_named(
    client: httpx.AsyncClient, tocsin: Tocsin
) -> None:
    bad = alert("bad") | {"status": "pending"}

    response = await post(client, body(bad, GOOD))

    assert response.status_code == 200, response.text
    [named] = response.json()["rejected"]
    assert named["where"] == "alerts[0]" and named["fingerprint"] == "bad"
    assert named["reason"] == "malformed" and "status" in named["error"]
    assert set(await stored(tocsin)) == {"900d"}
    assert rejected_count(tocsin, "malformed") == 1


async def test_a_request_of_only_bad_alerts_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, tocsin: Tocsin
) -> None:
    response = await post(
        client, body(alert("x") | {"status": "pending"}, alert("y") | {"labels": []})
    )

    assert response.status_code == 400
    assert "alerts[0].status" in response.json()["error"]
    assert await stored(tocsin) == {}


async def test_a_value_the_database_refuses_costs_only_its_alert(
    client: httpx.AsyncClient, tocsin: Tocsin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `fit`, PostgreSQL refuses NUL in text: the batch is split until the alert
    stands alone, and only it is rejected. (SQLite stores NUL, so there all are stored.)"""
    monkeypatch.setattr(bot.alerts.ingest, "fit", lambda event: event)
    nul = alert("nul") | {"annotations": {"summary": "disk\x00full"}}
    others = [alert(f"ok-{i}", instance=f"i-{i}") for i in range(6)]

    response = await post(client, body(*others[:3], nul, *others[3:], GOOD))

    assert response.status_code == 200, response.text
    rows = await stored(tocsin)
    assert {f"ok-{i}" for i in range(6)} | {"900d"} <= set(rows)
    if tocsin.services.db.is_sqlite:
        assert "nul" in rows and "rejected" not in response.json()
        return
    assert "nul" not in rows
    [named] = response.json()["rejected"]
    assert named["fingerprint"] == "nul" and named["reason"] == "unstorable"
    assert rejected_count(tocsin, "unstorable") == 1


async def test_ten_thousand_alerts_in_one_body(client: httpx.AsyncClient, tocsin: Tocsin) -> None:
    many = [alert(f"fp-{i:05}", instance=f"10.0.{i // 250}.{i % 250}") for i in range(10_000)]
    content = body(*many)
    assert len(content) < tocsin.settings.server.max_alert_body_bytes

    response = await post(client, content)

    assert response.status_code == 200, response.text
    assert response.json()["opened"] == 1
    async with tocsin.services.db.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(alerts))).scalar_one()
        [incident] = (await conn.execute(select(incidents))).all()
    assert count == 10_000 and incident.firing_count == 10_000
    tocsin.ingest.known = KnownAlerts()  # as another replica: every repeat is looked up
    again = await post(client, content)
    assert again.status_code == 200 and again.json()["deduplicated"] == 10_000


async def test_alerts_the_sender_left_out_are_counted(
    client: httpx.AsyncClient, tocsin: Tocsin
) -> None:
    content = orjson.dumps({"version": "4", "truncatedAlerts": 7, "alerts": [GOOD]})

    response = await post(client, content)

    assert response.status_code == 200 and set(await stored(tocsin)) == {"900d"}
    registry = tocsin.services.metrics.registry
    assert registry.get_sample_value("tocsin_alerts_truncated_total", {"source": "am"}) == 7
