"""The blind-monitoring alert a missing heartbeat raises, and the words about heartbeats.

The alert is made from the row alone (its start is the moment the heartbeat went missing,
`missing_since`), so replicas raising it at once hand the intake the same alert, which keeps
one of them: one incident, one set of pages.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.alerts.event import AlertEvent, AlertStatus
from bot.alerts.matchers import parse_matcher
from bot.heartbeats.deadline import Row
from bot.heartbeats.store import HTTP, SOURCE, fingerprint
from bot.i18n import t
from bot.incidents.times import clock
from bot.settings.watch import Heartbeat, Watchdog

ALERTNAME = "HeartbeatMissing"


def missing_alert(
    name: str, beat: Heartbeat, row: Row, *, lang: str, tz: str, now: datetime
) -> AlertEvent:
    """The firing alert of a missing heartbeat (`row.missing_since` is set)."""
    span = duration(beat.interval + beat.grace, lang)
    if beat.summary:
        summary = beat.summary
    elif beat.watchdog is not None:
        alert, source = watchdog_alert(beat.watchdog), beat.watchdog.source
        summary = t("heartbeat.alert.watchdog", lang, alert=alert, source=source, span=span)
    else:
        summary = t("heartbeat.alert.http", lang, name=name, span=span)
    every = {"interval": duration(beat.interval, lang), "grace": duration(beat.grace, lang)}
    if row.last_seen_at is None:
        when = clock(row.created_at, now, tz, lang)
        description = t("heartbeat.alert.never", lang, when=when, **every)
    else:
        when, via = clock(row.last_seen_at, now, tz, lang), via_words(row.last_via, beat, lang)
        description = t("heartbeat.alert.last_seen", lang, when=when, via=via, **every)
    return AlertEvent(
        source=SOURCE,
        fingerprint=fingerprint(name),
        status=AlertStatus.FIRING,
        labels=labels(name, beat),
        annotations={"summary": summary, "description": description},
        starts_at=row.missing_since,
        group_key=fingerprint(name),
    )


def back_alert(name: str, beat: Heartbeat, row: Row, *, lang: str, tz: str) -> AlertEvent:
    """The resolved alert: the heartbeat beats again (or is no longer configured)."""
    seen = row.last_seen_at or row.created_at
    via = via_words(row.last_via, beat, lang)
    when = clock(seen, seen, tz, lang)
    return AlertEvent(
        source=SOURCE,
        fingerprint=fingerprint(name),
        status=AlertStatus.RESOLVED,
        labels=labels(name, beat),
        annotations={"summary": t("heartbeat.alert.back", lang, name=name, when=when, via=via)},
        ends_at=seen,
        group_key=fingerprint(name),
    )


def labels(name: str, beat: Heartbeat) -> dict[str, str]:
    """What routes and tier rules see: the configured labels (``severity`` → tier)."""
    return {"alertname": ALERTNAME, "heartbeat": name, **beat.labels}


def watchdog_alert(watchdog: Watchdog) -> str:
    """The name of the alert a watchdog waits for (``Watchdog`` unless its matchers say)."""
    for text in watchdog.matchers:
        matcher = parse_matcher(text)
        if matcher.name == "alertname" and matcher.op == "=" and matcher.value:
            return matcher.value
    return "Watchdog"


def via_words(via: str, beat: Heartbeat, lang: str) -> str:
    """How a beat came: ``over HTTP``, ``Watchdog from am-prod``."""
    if via == HTTP or not via:
        return t("heartbeat.via.http", lang)
    alert = watchdog_alert(beat.watchdog) if beat.watchdog is not None else "Watchdog"
    return t("heartbeat.via.watchdog", lang, alert=alert, source=via)


def duration(delta: timedelta, lang: str) -> str:
    """``45 s``, ``3 min``, ``1 h``, ``25 h``, ``3 days``: the largest unit that reads well
    (whole hours rather than 60 min, 25 h rather than 1 day)."""
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86400:
        return t("heartbeat.span.days", lang, n=seconds // 86400)
    if seconds >= 2 * 3600 or (seconds >= 3600 and seconds % 3600 == 0):
        return t("heartbeat.span.hours", lang, n=seconds // 3600)
    if seconds >= 120 or (seconds >= 60 and seconds % 60 == 0):
        return t("heartbeat.span.minutes", lang, n=seconds // 60)
    return t("heartbeat.span.seconds", lang, n=seconds)
