"""The noise report as language-free facts, and the rules that pick each line's suggestion.

`build` is pure: the incidents and pages of the period, each person's zone and the reviews
left open go in, a `NoiseReport` comes out, so the numbers and the rules are tested without a
database. The rules, in the order they are tried, are spelled out in docs/reports.md.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.incidents.times import zone
from bot.reports.noise_data import IncidentFacts, PageFacts
from bot.reviews.stale import StaleReview

TOP = 10
"""Lines of the top-alerts section."""
NIGHT_START, NIGHT_END = 22, 7
"""A page is at night from 22:00 to 07:00 on its person's clock."""
SHORT = timedelta(minutes=15)
"""Alerts that end by themselves within this (median) are asked for a `for:` duration."""
MTTA_TARGET = {"P0": 5 * 60, "P1": 15 * 60, "P2": 60 * 60, "P3": 4 * 60 * 60}
"""Seconds to acknowledge past which a tier's escalation is worth a look."""
STALE_AFTER = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What to do about a line: a `code` (its catalogue text is ``report.do.<code>``) and the
    numbers its text needs."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


NONE = Suggestion("none")


@dataclass(frozen=True, slots=True)
class TopAlert:
    alert: str
    service: str
    tier: str
    incidents: int
    alerts: int
    pages: int
    resolved_unacked: int
    never_acked: int
    suggestion: Suggestion


@dataclass(frozen=True, slots=True)
class Flapping:
    alert: str
    service: str
    incidents: int
    changes: int
    suggestion: Suggestion


@dataclass(frozen=True, slots=True)
class ResolvedUnacked:
    alert: str
    service: str
    incidents: int
    by_monitoring: int
    median_open_seconds: int
    suggestion: Suggestion


@dataclass(frozen=True, slots=True)
class NeverAcked:
    alert: str
    service: str
    tier: str
    incidents: int
    pages: int
    suggestion: Suggestion


@dataclass(frozen=True, slots=True)
class NightPages:
    person: str
    time_zone: str
    pages: int
    night_pages: int
    low_tier_night_pages: int
    suggestion: Suggestion


@dataclass(frozen=True, slots=True)
class TierTimes:
    tier: str
    incidents: int
    acked: int
    mtta_seconds: int | None
    resolved: int
    mttr_seconds: int | None
    suggestion: Suggestion


@dataclass(frozen=True, slots=True)
class OpenReview:
    incident_id: int | None
    run_id: int | None
    title: str
    service: str
    open_items: int
    oldest: datetime
    suggestion: Suggestion


@dataclass(frozen=True, slots=True)
class NoiseReport:
    since: datetime
    until: datetime
    services: tuple[str, ...]
    incidents: int
    top_alerts: tuple[TopAlert, ...]
    flapping: tuple[Flapping, ...]
    resolved_unacked: tuple[ResolvedUnacked, ...]
    never_acked: tuple[NeverAcked, ...]
    night_pages: tuple[NightPages, ...]
    tiers: tuple[TierTimes, ...]
    stale_reviews: tuple[OpenReview, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON document of docs/reports.md (suggestions as codes and parameters)."""

        def items(rows: Iterable[Any]) -> list[dict[str, Any]]:
            out = []
            for row in rows:
                item = asdict(row)
                item["suggestion"] = row.suggestion.code
                item["suggestion_params"] = dict(row.suggestion.params)
                if isinstance(item.get("oldest"), datetime):
                    item["oldest"] = item["oldest"].isoformat()
                out.append(item)
            return out

        return {
            "report": "noise",
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "services": list(self.services),
            "night": {"start": f"{NIGHT_START:02d}:00", "end": f"{NIGHT_END:02d}:00"},
            "incidents": self.incidents,
            "top_alerts": items(self.top_alerts),
            "flapping": items(self.flapping),
            "resolved_unacked": items(self.resolved_unacked),
            "never_acked": items(self.never_acked),
            "night_pages": items(self.night_pages),
            "tiers": items(self.tiers),
            "stale_reviews": items(self.stale_reviews),
        }


def is_night(moment: datetime, tz: str) -> bool:
    hour = moment.astimezone(zone(tz)).hour
    return hour >= NIGHT_START or hour < NIGHT_END


def build(
    *,
    since: datetime,
    until: datetime,
    services: Sequence[str],
    found: Sequence[IncidentFacts],
    paged: Sequence[PageFacts],
    zones: Mapping[str, str],
    stale: Sequence[StaleReview],
    flapping_changes: int,
    flapping_window: timedelta,
) -> NoiseReport:
    """The report of ``[since, until)``: `zones` gives each paged person's time zone;
    `flapping_changes` is `incidents.flapping.max_changes`."""
    pages_of: dict[int, int] = defaultdict(int)
    for page in paged:
        pages_of[page.incident_id] += 1
    by_alert = _group(found, lambda i: (i.alert, i.service))
    days = max(1, round((until - since) / timedelta(days=1)))
    return NoiseReport(
        since=since,
        until=until,
        services=tuple(services),
        incidents=len(found),
        top_alerts=_top(by_alert, pages_of, days),
        flapping=_flapping(by_alert, flapping_changes, flapping_window),
        resolved_unacked=_resolved_unacked(by_alert),
        never_acked=_never_acked(by_alert, pages_of),
        night_pages=_night(paged, {i.id: i for i in found}, zones),
        tiers=_tiers(found),
        stale_reviews=tuple(
            OpenReview(
                s.incident_id,
                s.run_id,
                s.title,
                s.service,
                s.open_items,
                s.oldest,
                Suggestion("close_followups", {"items": s.open_items}),
            )
            for s in stale
        ),
    )


Key = tuple[str, str]


def _group(
    found: Iterable[IncidentFacts], key: Callable[[IncidentFacts], Key]
) -> dict[Key, list[IncidentFacts]]:
    groups: dict[Key, list[IncidentFacts]] = defaultdict(list)
    for incident in found:
        groups[key(incident)].append(incident)
    return groups


def _top_tier(group: Sequence[IncidentFacts]) -> str:
    return min(i.tier for i in group)


def _open_seconds(i: IncidentFacts) -> float:
    assert i.resolved_at is not None
    return max((i.resolved_at - i.triggered_at).total_seconds(), 0.0)


def for_minutes(seconds: float) -> int:
    """A `for:` duration that would have kept quiet an alert that lasted `seconds`: rounded up
    to 5 minutes, at least 5."""
    return max(5, math.ceil(seconds / 300) * 5)


def _top(
    by_alert: Mapping[Key, list[IncidentFacts]], pages_of: Mapping[int, int], days: int
) -> tuple[TopAlert, ...]:
    lines = []
    for (alert, service), group in by_alert.items():
        n = len(group)
        unacked = [i for i in group if i.resolved_unacked]
        never = sum(1 for i in group if i.never_acked)
        if 2 * len(unacked) >= n:
            median = statistics.median(_open_seconds(i) for i in unacked)
            suggestion = Suggestion("add_for", {"minutes": for_minutes(median)})
        elif 2 * never >= n:
            suggestion = Suggestion("silence_label", {"matcher": _matcher(alert, service)})
        elif n >= days:
            suggestion = Suggestion("raise_threshold", {"per_day": round(n / days, 1)})
        else:
            suggestion = NONE
        lines.append(
            TopAlert(
                alert,
                service,
                _top_tier(group),
                n,
                sum(i.alert_count for i in group),
                sum(pages_of.get(i.id, 0) for i in group),
                len(unacked),
                never,
                suggestion,
            )
        )
    lines.sort(key=lambda a: (-a.incidents, -a.alerts, a.alert, a.service))
    return tuple(lines[:TOP])


def _matcher(alert: str, service: str) -> str:
    return f'alertname="{alert}",service="{service}"' if service else f'alertname="{alert}"'


def _flapping(
    by_alert: Mapping[Key, list[IncidentFacts]], max_changes: int, window: timedelta
) -> tuple[Flapping, ...]:
    minutes = for_minutes(window.total_seconds())
    lines = []
    for (alert, service), group in by_alert.items():
        flapped = [i for i in group if i.flapping or i.max_changes >= max_changes]
        if flapped:
            lines.append(
                Flapping(
                    alert,
                    service,
                    len(flapped),
                    sum(i.changes for i in flapped),
                    Suggestion("add_for", {"minutes": minutes}),
                )
            )
    lines.sort(key=lambda f: (-f.incidents, -f.changes, f.alert, f.service))
    return tuple(lines)


def _resolved_unacked(by_alert: Mapping[Key, list[IncidentFacts]]) -> tuple[ResolvedUnacked, ...]:
    lines = []
    for (alert, service), group in by_alert.items():
        unacked = [i for i in group if i.resolved_unacked]
        if not unacked:
            continue
        median = statistics.median(_open_seconds(i) for i in unacked)
        if median <= SHORT.total_seconds():
            suggestion = Suggestion("add_for", {"minutes": for_minutes(median)})
        else:
            suggestion = Suggestion("lower_tier", {})
        lines.append(
            ResolvedUnacked(
                alert,
                service,
                len(unacked),
                sum(1 for i in unacked if i.by_monitoring),
                round(median),
                suggestion,
            )
        )
    lines.sort(key=lambda r: (-r.incidents, r.alert, r.service))
    return tuple(lines)


def _never_acked(
    by_alert: Mapping[Key, list[IncidentFacts]], pages_of: Mapping[int, int]
) -> tuple[NeverAcked, ...]:
    lines = []
    for (alert, service), group in by_alert.items():
        never = [i for i in group if i.never_acked]
        if not never:
            continue
        tier = _top_tier(never)
        if tier in ("P0", "P1"):
            suggestion = Suggestion("check_escalation", {})
        else:
            suggestion = Suggestion("silence_label", {"matcher": _matcher(alert, service)})
        paged = sum(pages_of.get(i.id, 0) for i in never)
        lines.append(NeverAcked(alert, service, tier, len(never), paged, suggestion))
    lines.sort(key=lambda n: (n.tier, -n.incidents, n.alert, n.service))
    return tuple(lines)


def _night(
    paged: Sequence[PageFacts], by_id: Mapping[int, IncidentFacts], zones: Mapping[str, str]
) -> tuple[NightPages, ...]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for page in paged:
        count = counts[page.recipient]
        count[0] += 1
        if is_night(page.at, zones[page.recipient]):
            count[1] += 1
            incident = by_id.get(page.incident_id)
            if incident is not None and incident.tier in ("P2", "P3"):
                count[2] += 1
    lines = []
    for person, (total, night, low) in counts.items():
        if low:
            suggestion = Suggestion("day_only", {"pages": low})
        elif night >= 3:
            suggestion = Suggestion("share_load", {"pages": night})
        else:
            suggestion = NONE
        lines.append(NightPages(person, zones[person], total, night, low, suggestion))
    lines.sort(key=lambda n: (-n.night_pages, -n.pages, n.person))
    return tuple(lines)


def _tiers(found: Sequence[IncidentFacts]) -> tuple[TierTimes, ...]:
    lines = []
    for tier in sorted({i.tier for i in found}):
        group = [i for i in found if i.tier == tier]
        acks = [
            max((i.acked_at - i.triggered_at).total_seconds(), 0.0)
            for i in group
            if i.acked_at is not None
        ]
        fixes = [
            max((i.resolved_at - i.created_at).total_seconds(), 0.0)
            for i in group
            if i.resolved_at is not None
        ]
        mtta = round(statistics.fmean(acks)) if acks else None
        mttr = round(statistics.fmean(fixes)) if fixes else None
        target = MTTA_TARGET.get(tier)
        if mtta is not None and target is not None and mtta > target:
            suggestion = Suggestion("check_escalation", {"minutes": target // 60})
        elif len(group) >= 4 and 2 * len(acks) < len(group):
            suggestion = Suggestion("lower_tier", {})
        else:
            suggestion = NONE
        lines.append(TierTimes(tier, len(group), len(acks), mtta, len(fixes), mttr, suggestion))
    return tuple(lines)
