"""The ingest's look-ups use the (source, fingerprint) index whatever PostgreSQL's statistics
say: analysed while the tables were empty, then grown to thousands of alerts of one source in
hundreds of incidents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, text

from bot.alerts.statements import statements
from bot.store.db import Database
from bot.store.tables import alerts, incidents
from tests.support import migrated, postgres_database

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 1, 5, 3, tzinfo=UTC)


@pytest.fixture
async def pg() -> AsyncIterator[Database]:
    async with postgres_database() as url, migrated(url) as database:
        yield database


async def grow_with_stale_statistics(db: Database, n: int, groups: int = 600) -> None:
    async with db.begin() as conn:
        await conn.execute(text("ANALYZE alerts, incidents"))  # statistics of empty tables
        incident = {
            "route": "ops",
            "tier": "P2",
            "title": "t",
            "labels": {},
            "status": "resolved",
            "destinations": [],
            "created_at": NOW,
            "updated_at": NOW,
        }
        await conn.execute(
            insert(incidents), [incident | {"group_key": f"g{i}"} for i in range(groups)]
        )
        rows = [
            {
                "source": "am",
                "fingerprint": f"{i:016x}",
                "status": "resolved",
                "name": "A",
                "summary": "",
                "labels": {},
                "annotations": {},
                "first_seen_at": NOW,
                "last_seen_at": NOW,
                "changes": [],
                "incident_id": 1 + i % groups,
            }
            for i in range(n)
        ]
        await conn.execute(insert(alerts), rows)


async def plan(db: Database, stmt: object, params: dict[str, object]) -> str:
    async with db.connect() as conn:
        compiled = stmt.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
        values = compiled.construct_params(params)
        ordered = tuple(values[name] for name in compiled.positiontup)
        result = await conn.exec_driver_sql(f"EXPLAIN {compiled}", ordered)
        return "\n".join(row[0] for row in result.all())


async def test_the_duplicate_lookup_uses_the_index(pg: Database) -> None:
    await grow_with_stale_statistics(pg, 20_000)
    fingerprints = [f"{i:016x}" for i in range(0, 20_000, 40)]

    shown = await plan(pg, statements(False).peek, {"source": "am", "fps": fingerprints})

    lines = shown.splitlines()
    # each fingerprint is an index probe, not a filter over every alert of the source
    assert any("Index Cond" in line and "fingerprint" in line for line in lines), shown[:500]
    assert not any("Filter" in line and "fingerprint" in line for line in lines), shown[:500]
    assert "Seq Scan" not in shown, shown[:500]  # neither alerts nor incidents


async def test_row_locks_take_one_array_whatever_its_length(pg: Database) -> None:
    await grow_with_stale_statistics(pg, 20_000)

    shown = await plan(pg, statements(False).lock_alerts, {"ids": list(range(1, 20_000, 400))})

    assert "pk_alerts" in shown and "Seq Scan on alerts" not in shown, shown[:300]
