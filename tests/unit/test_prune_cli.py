"""`tocsin db prune [--dry-run]`: the cut-off dates, what would go and what went, per table."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot.cli import main
from bot.store.db import Database
from bot.store.tables import inbound_events, outbox
from tests.support import base_config

DAY = timedelta(days=1)


def write_config(tmp_path: Path) -> tuple[Path, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    raw = base_config(database={"url": url}, retention={"audit_log": "90d"})
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path, url


async def fill(url: str) -> None:
    now = datetime.now(UTC)
    db = Database(url)
    try:
        async with db.begin() as conn:
            await conn.execute(
                inbound_events.insert(),
                [
                    {"platform": "slack", "event_id": f"old{n}", "received_at": now - 9 * DAY}
                    for n in range(3)
                ]
                + [{"platform": "slack", "event_id": "new", "received_at": now}],
            )
            old = now - 30 * DAY
            row = {"destination": "fake:ops", "kind": "text", "payload": {}, "created_at": old}
            await conn.execute(
                outbox.insert(),
                [
                    {**row, "status": "sent", "next_attempt_at": old},
                    {**row, "status": "pending", "next_attempt_at": old},
                ],
            )
    finally:
        await db.dispose()


async def sizes(url: str) -> tuple[int, int]:
    db = Database(url)
    try:
        async with db.connect() as conn:
            events = (await conn.execute(select(func.count()).select_from(inbound_events))).one()
            messages = (await conn.execute(select(func.count()).select_from(outbox))).one()
    finally:
        await db.dispose()
    return events[0], messages[0]


def rows_of(out: str, table: str) -> int:
    found = re.search(rf"^  {table} +(\d+)$", out, re.MULTILINE)
    assert found, f"no line for {table} in:\n{out}"
    return int(found.group(1))


def test_dry_run_reports_cutoffs_and_counts_and_deletes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = write_config(tmp_path)
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    asyncio.run(fill(url))
    capsys.readouterr()

    assert main(["db", "prune", "--dry-run", "--config", str(config)]) == 0

    out = capsys.readouterr().out
    today = datetime.now(UTC)
    week_ago = (today - 7 * DAY).strftime("%Y-%m-%d")
    assert out.startswith("Cut-off dates (now ")
    assert re.search(rf"^  inbound_events +platform events received before {week_ago} ", out, re.M)
    assert re.search(r"^  incidents +incidents resolved before \d{4}-\d\d-\d\d ", out, re.M)
    assert re.search(r"^  audit_log +audit entries written before \d{4}-", out, re.M)
    assert "Would delete (dry run, nothing deleted):" in out
    assert rows_of(out, "inbound_events") == 3 and rows_of(out, "outbox") == 1
    assert rows_of(out, "incidents") == 0 and rows_of(out, "total") == 4
    assert asyncio.run(sizes(url)) == (4, 2)

    assert main(["db", "prune", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "\nDeleted:\n" in out and rows_of(out, "inbound_events") == 3
    assert asyncio.run(sizes(url)) == (1, 1)  # the fresh event and the waiting message


def test_kept_forever_is_said_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    raw = base_config(database={"url": url}, retention={"incidents": None, "outbox": 0})
    config = tmp_path / "tocsin.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["db", "prune", "--dry-run", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  incidents +kept forever$", out, re.M)
    assert re.search(r"^  outbox +kept forever$", out, re.M)
    assert re.search(r"^  audit_log +kept forever$", out, re.M)
    assert not re.search(r"^  alerts ", out, re.M)


def test_prune_refuses_an_unmigrated_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _url = write_config(tmp_path)
    assert main(["db", "prune", "--config", str(config)]) == 3
    assert "tocsin db upgrade" in capsys.readouterr().err
