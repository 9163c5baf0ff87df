"""Counters of repeated alerts (last seen, times received), written behind in batches.

Deciding that a delivery is a repeat is synchronous; recording that it happened is not urgent,
and rewriting an alert's row for every re-delivery was the bulk of the database's work during
storms. Counts gather here for a few seconds and the engine writes them in one statement. A
crash loses those few seconds of counters, never an alert or a state change.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, update

from bot.store.db import Database
from bot.store.tables import alerts

_SEEN = (
    update(alerts)
    .where(alerts.c.id == bindparam("b_id"))
    .values(
        last_seen_at=bindparam("b_seen"),
        received_count=alerts.c.received_count + bindparam("b_n"),
    )
)


class SeenCounts:
    """`every`: how long counts may gather before the engine writes them (and so how stale
    `last_seen_at` may be); `most`: how many alerts' counts may wait at once."""

    def __init__(self, every: timedelta = timedelta(seconds=5), most: int = 20_000) -> None:
        self._pending: dict[int, tuple[int, datetime]] = {}
        self._since: datetime | None = None
        self.every, self.most = every, most

    def add(self, alert_id: int, copies: int, at: datetime) -> None:
        count, _ = self._pending.get(alert_id, (0, at))
        self._pending[alert_id] = (count + copies, at)
        if self._since is None:
            self._since = at

    def due(self, now: datetime) -> bool:
        return bool(self._pending) and (
            len(self._pending) >= self.most
            or (self._since is not None and now - self._since >= self.every)
        )

    def __len__(self) -> int:
        return len(self._pending)

    async def flush(self, db: Database) -> int:
        """Write what gathered (in id order, like every other writer); returns rows written."""
        if not self._pending:
            return 0
        pending, self._pending, self._since = self._pending, {}, None
        rows = [
            {"b_id": alert_id, "b_n": n, "b_seen": at}
            for alert_id, (n, at) in sorted(pending.items())
        ]
        try:
            async with db.autocommit() as conn:
                await conn.execute(_SEEN, rows)
        except Exception:
            for alert_id, (n, at) in pending.items():  # keep them for the next pass
                self.add(alert_id, n, at)
            raise
        return len(rows)
