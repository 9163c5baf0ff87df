"""The ingest's look-ups use the (source, fingerprint) index whatever PostgreSQL's statistics
say: analysed while the table was empty, then grown to thousands of alerts of one source."""

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


async def grow_with_stale_statistics(db: Database, n: int) -> None:
    async with db.begin() as conn:
        await conn.execute(text("ANALYZE alerts"))  # statistics of an empty table
        incident = {
            "group_key": "g",
            "route": "ops",
            "tier": "P2",
            "title": "t",
            "labels": {},
            "status": "resolved",
            "destinations": [],
            "created_at": NOW,
            "updated_at": NOW,
        }
        incident_id = (await conn.execute(insert(incidents).values(incident))).inserted_primary_key
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
                "incident_id": incident_id[0],
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

    assert "uq_alerts_source_fingerprint" in shown, shown[:300]
    assert "Seq Scan on alerts" not in shown, shown[:300]


async def test_row_locks_take_one_array_whatever_its_length(pg: Database) -> None:
    await grow_with_stale_statistics(pg, 20_000)

    shown = await plan(pg, statements(False).lock_alerts, {"ids": list(range(1, 20_000, 400))})

    assert "pk_alerts" in shown and "Seq Scan on alerts" not in shown, shown[:300]
