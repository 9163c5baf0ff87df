"""What every alert source must do over HTTP: the shared checks of the vendor source tests.

A vendor's test data file (``tests/data/sources/<kind>/<name>.json``) holds the documentation
page the payload was taken from and the payload itself::

    {"source": "https://…", "note": "what was changed, if anything", "form": false,
     "payload": {…}}

`form: true` sends the payload as ``application/x-www-form-urlencoded`` (CloudMonitor does).
`served` runs the whole app on a migrated database (the `db` fixture: SQLite and PostgreSQL)
with one source of the kind under test beside the usual ones; `lifecycle` drives a firing
alert, its repeat and its resolution through it and checks what was stored.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from sqlalchemy import func, select

from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.store.db import Database
from bot.store.tables import alerts, incidents
from tests.support import RecordingPlatform, base_config, make_settings

DATA = Path(__file__).resolve().parents[2] / "data" / "sources"


@dataclass(frozen=True)
class Sample:
    """One recorded request: its body as sent, and where the payload was documented."""

    documented_at: str
    payload: Any
    body: bytes
    content_type: str


def sample(kind: str, name: str, payload: Any = None) -> Sample:
    """The data file ``<kind>/<name>.json`` as a request (`payload` replaces its payload, for
    a changed copy)."""
    raw = json.loads((DATA / kind / f"{name}.json").read_text(encoding="utf-8"))
    assert str(raw["source"]).startswith("https://"), f"{kind}/{name}.json: name its source"
    payload = raw["payload"] if payload is None else payload
    if raw.get("form"):
        return Sample(
            raw["source"],
            payload,
            urlencode(payload).encode(),
            "application/x-www-form-urlencoded",
        )
    return Sample(raw["source"], payload, orjson.dumps(payload), "application/json")


def payload(kind: str, name: str) -> Any:
    """The payload of ``<kind>/<name>.json`` (a fresh copy each call)."""
    return sample(kind, name).payload


@dataclass
class Served:
    app: Tocsin
    client: httpx.AsyncClient
    kind: str
    headers: dict[str, str] = field(default_factory=dict)
    """Credentials sent with every request unless a call gives its own."""
    query: str = ""

    async def post(
        self,
        request: Sample | bytes,
        *,
        headers: Mapping[str, str] | None = None,
        query: str | None = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        body = request.body if isinstance(request, Sample) else request
        if isinstance(request, Sample):
            content_type = request.content_type
        sent = {"Content-Type": content_type, **(self.headers if headers is None else headers)}
        url = f"/api/v1/alerts/{self.kind}"
        wanted = self.query if query is None else query
        return await self.client.post(
            f"{url}?{wanted}" if wanted else url, content=body, headers=sent
        )

    async def counts(self) -> tuple[int, int]:
        """(alerts, incidents) stored."""
        async with self.app.services.db.connect() as conn:
            n_alerts = (await conn.execute(select(func.count()).select_from(alerts))).scalar_one()
            n_inc = (await conn.execute(select(func.count()).select_from(incidents))).scalar_one()
        return n_alerts, n_inc

    async def alerts(self) -> list[dict[str, Any]]:
        """Every stored alert, oldest first."""
        async with self.app.services.db.connect() as conn:
            rows = await conn.execute(select(alerts).order_by(alerts.c.id))
            return [dict(row._mapping) for row in rows]

    async def incidents(self) -> list[dict[str, Any]]:
        """Every stored incident, oldest first."""
        async with self.app.services.db.connect() as conn:
            rows = await conn.execute(select(incidents).order_by(incidents.c.id))
            return [dict(row._mapping) for row in rows]


@asynccontextmanager
async def served(
    db: Database,
    source: dict[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    query: str = "",
    **overrides: Any,
) -> AsyncIterator[Served]:
    """The app with `source` configured beside the usual ones (`overrides` replace other
    top-level settings), and an HTTP client for it sending `headers` and `query`."""
    config = base_config(**overrides)
    settings = make_settings(**{**config, "sources": [*config["sources"], source]})
    app = bootstrap(
        settings, clock=FakeClock(), platforms={"fake": RecordingPlatform()}, database=db
    )
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        yield Served(app, client, source["kind"], dict(headers or {}), query)


async def lifecycle(served: Served, firing: Sample, resolved: Sample) -> dict[str, Any]:
    """Post `firing`, the same again, then `resolved`, and check the sender's contract: one
    alert and one incident opened, the repeat de-duplicated onto them, the resolution closing
    that same alert and its incident. Returns the stored alert."""
    first = await served.post(firing)
    assert first.status_code == 200, first.text
    assert first.json()["opened"] == 1, first.json()
    again = await served.post(firing)
    assert again.status_code == 200, again.text
    assert again.json()["deduplicated"] == 1, again.json()
    assert await served.counts() == (1, 1)
    closing = await served.post(resolved)
    assert closing.status_code == 200, closing.text
    assert closing.json()["resolved"] == 1, closing.json()
    assert await served.counts() == (1, 1)
    (alert,) = await served.alerts()
    assert alert["status"] == "resolved"
    (incident,) = await served.incidents()
    assert incident["status"] == "resolved", incident
    return alert


async def refused_unchanged(
    served: Served, request: Sample | bytes, status: int, message: str, **kwargs: Any
) -> None:
    """`request` gets `status` with an error containing `message`, and nothing is stored."""
    before = await served.counts()
    response = await served.post(request, **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"], response.json()
    assert await served.counts() == before
