"""Shadow mode's comparison: who the old tool puts on call against who Tocsin's schedule does,
over the same hours, and where they differ — with the likely cause when the two tools' models
differ (a daylight-saving rule, several people on call at once, nobody on call)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from bot.oncall.model import Override
from bot.oncall.timeline import timeline
from bot.settings.durations import format_duration
from bot.settings.oncall import Schedule

HOUR = timedelta(hours=1)
_DST_REACH = timedelta(days=8)
"""How long after a clock change a one-offset difference is put down to it (a weekly turn)."""


@dataclass(frozen=True, slots=True)
class Held:
    """The old tool's on-call: `person` (a Tocsin user id, or ``?<name>`` for someone Tocsin
    does not know) over [start, end)."""

    start: datetime
    end: datetime
    person: str


@dataclass(frozen=True, slots=True)
class Difference:
    start: datetime
    end: datetime
    old: tuple[str, ...]
    new: str | None
    why: str = ""


@dataclass(slots=True)
class Comparison:
    name: str
    """The Tocsin schedule's name."""
    origin: str
    """What it is compared with, e.g. ``PagerDuty schedule P1 "Primary"``."""
    zone: str
    start: datetime
    end: datetime
    differences: list[Difference]

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)

    @property
    def hours_differing(self) -> int:
        """Of the compared hours [start + k h, + 1 h), those with any difference in them."""
        count = 0
        for k in range(self.hours):
            hour = self.start + k * HOUR
            if any(d.start < hour + HOUR and hour < d.end for d in self.differences):
                count += 1
        return count


def compare(
    schedule: Schedule,
    held: Sequence[Held],
    start: datetime,
    end: datetime,
    *,
    vendor: str,
    overrides: Sequence[Override] = (),
) -> list[Difference]:
    """Every stretch of [start, end) where `held` and the schedule disagree, merged."""
    ours = timeline(schedule, start, end, overrides)
    cuts = sorted(
        {start, end}
        | {s.start for s in ours}
        | {t for h in held for t in (h.start, h.end) if start < t < end}
    )
    out: list[Difference] = []
    for lo, hi in pairwise(cuts):
        old = tuple(sorted({h.person for h in held if h.start <= lo and hi <= h.end}))
        new = next(s.user for s in ours if s.start <= lo < s.end)
        if old == ((new,) if new is not None else ()):
            continue
        if out and out[-1].end == lo and (out[-1].old, out[-1].new) == (old, new):
            out[-1] = Difference(out[-1].start, hi, old, new)
        else:
            out.append(Difference(lo, hi, old, new))
    zone = ZoneInfo(schedule.time_zone)
    return [Difference(d.start, d.end, d.old, d.new, _why(d, zone, vendor)) for d in out]


def _why(d: Difference, zone: ZoneInfo, vendor: str) -> str:
    if len(d.old) > 1:
        return (
            f"{vendor} has {len(d.old)} people on call at once here; a Tocsin schedule has one "
            "at a time (the highest layer wins): split the layers into schedules and page both"
        )
    change = _clock_change(zone, d.start - _DST_REACH, d.start)
    if change is not None and d.end - d.start == abs(change[1]):
        return (
            f"after the clock change of {change[0].astimezone(zone):%a %d %b %Y} the hand-offs "
            f"are {format_duration(abs(change[1]))} apart: Tocsin keeps a hand-off at its local "
            f"time, {vendor} here keeps its UTC time (a daylight-saving rule the models do not "
            "share)"
        )
    if not d.old:
        return f"{vendor} has nobody on call here"
    if d.new is None:
        return "Tocsin has nobody on call here"
    return ""


def _clock_change(
    zone: ZoneInfo, start: datetime, end: datetime
) -> tuple[datetime, timedelta] | None:
    """The last change of `zone`'s UTC offset in [start, end], to the hour, and its size."""
    found = None
    at = start
    before = at.astimezone(zone).utcoffset()
    while at < end:
        at = min(at + HOUR, end)
        after = at.astimezone(zone).utcoffset()
        if after is not None and before is not None and after != before:
            found = (at, after - before)
        before = after
    return found


def report(comparison: Comparison, vendor: str) -> list[str]:
    """The comparison as lines: a headline, then one line per difference in local time."""
    zone = ZoneInfo(comparison.zone)
    span = f"{_local(comparison.start, zone)} → {_local(comparison.end, zone)} {comparison.zone}"
    count = len(comparison.differences)
    head = f"schedule {comparison.name} ({comparison.origin}), {span}: "
    if not count:
        return [head + f"0 differences in {comparison.hours} hours"]
    lines = [
        head + f"{count} difference{'s' if count != 1 else ''}, "
        f"{comparison.hours_differing} of {comparison.hours} hours differ"
    ]
    for d in comparison.differences:
        old = ", ".join(d.old) or "nobody"
        length = format_duration(d.end - d.start)
        line = (
            f"  {_local(d.start, zone)} → {_local(d.end, zone)} ({length}): "
            f"{vendor} {old} · Tocsin {d.new or 'nobody'}"
        )
        lines.append(line + (f" — {d.why}" if d.why else ""))
    return lines


def _local(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")
