"""Alertmanager's Watchdog alert as a beat.

The Watchdog fires for ever by design and is re-sent every `repeat_interval`; ingested as an
alert it would open an incident that never ends. So on the alert route, alerts of a watchdog's
source that match its matchers are taken out of the request: a firing one is a beat of each
heartbeat that waits for it, a resolved one is nothing (Alertmanager stopping is what a
heartbeat notices, by the beats stopping). The matchers are parsed once, per source, at start:
a source no heartbeat watches pays one dictionary lookup per request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.alerts.event import AlertEvent, AlertStatus
from bot.alerts.matchers import Matcher, matches_all, parse_matcher
from bot.clock import Clock
from bot.heartbeats.store import record
from bot.settings.watch import Heartbeat
from bot.store.db import Database


@dataclass(frozen=True, slots=True)
class SourceWatch:
    """The heartbeats that wait for a Watchdog from one source, with their parsed matchers."""

    waits: tuple[tuple[str, tuple[Matcher, ...]], ...]

    def split(self, events: Sequence[AlertEvent]) -> tuple[list[str], list[AlertEvent]]:
        """(heartbeats that beat, the alerts to ingest as usual)."""
        beats: dict[str, None] = {}
        rest: list[AlertEvent] = []
        for event in events:
            hit = [name for name, ms in self.waits if matches_all(ms, event.labels)]
            if not hit:
                rest.append(event)
            elif event.status == AlertStatus.FIRING:
                beats.update(dict.fromkeys(hit))
        return list(beats), rest


class Watchdogs:
    """The Watchdog watches by source name, and where their beats are written."""

    def __init__(self, heartbeats: Mapping[str, Heartbeat], db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock
        waits: dict[str, list[tuple[str, tuple[Matcher, ...]]]] = {}
        for name, beat in heartbeats.items():
            if beat.watchdog is not None:
                matchers = tuple(parse_matcher(text) for text in beat.watchdog.matchers)
                waits.setdefault(beat.watchdog.source, []).append((name, matchers))
        self.by_source = {source: SourceWatch(tuple(w)) for source, w in waits.items()}

    async def beat(self, names: Sequence[str], source: str) -> None:
        """Record a beat of `names` from `source`'s Watchdog (stored when this returns)."""
        await record(self.db, names, source, self.clock.now())
