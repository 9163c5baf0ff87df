"""What this process last learnt about alerts, so most re-deliveries need no database read.

Alertmanager re-sends every group on each interval, so most deliveries repeat a known alert.
An entry answers only the questions that do not depend on anything another replica could have
changed meanwhile *for the same occurrence*: a firing alert delivered again with the same start
time, or a resolved alert delivered resolved again. Everything else (and every entry older than
`ttl`) goes to the database. Entries are filled from database reads and dropped whenever this
process changes the alert.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.alerts.event import AlertEvent, AlertStatus

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Known:
    alert_id: int
    status: str
    starts_at: datetime | None
    learnt_at: datetime


class KnownAlerts:
    def __init__(self, size: int = 100_000, ttl: timedelta = timedelta(seconds=30)) -> None:
        self._entries: OrderedDict[Key, Known] = OrderedDict()
        self.size, self.ttl = size, ttl

    def repeat_of(self, event: AlertEvent, now: datetime) -> int | None:
        """The alert id when `event` surely repeats a known alert, else None."""
        key = (event.source, event.fingerprint)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now - entry.learnt_at > self.ttl:
            del self._entries[key]
            return None
        if event.status != entry.status:
            return None
        if event.status == AlertStatus.FIRING and (
            event.starts_at is None or event.starts_at != entry.starts_at
        ):
            return None
        self._entries.move_to_end(key)
        return entry.alert_id

    def learn(
        self, key: Key, alert_id: int, status: str, starts_at: datetime | None, now: datetime
    ) -> None:
        if status == AlertStatus.FIRING and starts_at is None:
            return  # nothing tells its occurrences apart: always ask the database
        self._entries[key] = Known(alert_id, status, starts_at, now)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, keys: list[Key]) -> None:
        for key in keys:
            self._entries.pop(key, None)
