"""The shared source checks hold for a plain generic source (so a vendor test that fails
them is about the vendor, not the harness)."""

from __future__ import annotations

import orjson

from bot.store.db import Database
from tests.unit.sources.harness import Sample, lifecycle, refused_unchanged, served

TOKEN = "generic-token-Kq3Vx8Lb2Nd9Rt4Wz6Hc1"
SOURCE = {"name": "plain", "kind": "generic", "auth": {"bearer_token": TOKEN}}


def request(status: str) -> Sample:
    body = {
        "name": "DiskFull",
        "severity": "critical",
        "service": "orders",
        "status": status,
        "fingerprint": "disk/orders",
    }
    return Sample("https://example.invalid/", body, orjson.dumps(body), "application/json")


async def test_lifecycle_and_refusal(db: Database) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with served(db, SOURCE, headers=headers, query="source=plain") as app:
        await refused_unchanged(app, b"{", 400, "not valid JSON")
        alert = await lifecycle(app, request("firing"), request("resolved"))
        assert alert["fingerprint"] == "disk/orders"
        await refused_unchanged(
            app,
            request("firing"),
            401,
            "invalid bearer token",
            headers={"Authorization": "Bearer nope"},
        )
