"""Each engine pass reports how long it took, as ``tocsin_engine_pass_seconds{pass}`` on
/metrics, so a pass that holds the others up shows which one it is."""

from __future__ import annotations

import httpx

from bot.bootstrap import Tocsin
from tests.support import firing

PASSES = ("inbox", "acks", "escalations", "cards", "runs", "retention", "outbox", "pages")


async def test_every_pass_of_a_round_is_timed_and_served_on_metrics(tocsin: Tocsin) -> None:
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    registry = tocsin.services.metrics.registry
    for name in PASSES:
        count = registry.get_sample_value("tocsin_engine_pass_seconds_count", {"pass": name})
        assert count is not None and count >= 1, name
    transport = httpx.ASGITransport(app=tocsin.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        served = (await client.get("/metrics")).text
    assert 'tocsin_engine_pass_seconds_bucket{le="0.005",pass="escalations"}' in served
