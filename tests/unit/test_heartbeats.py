"""Heartbeats: when one is missing (pure, by `now`), the alert it raises, /heartbeat list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.alerts.event import AlertStatus
from bot.alerts.routing import tier_for
from bot.bootstrap import Tocsin, bootstrap
from bot.clock import FakeClock
from bot.heartbeats.alert import back_alert, duration, missing_alert
from bot.heartbeats.deadline import Move, Row, State, deadline, move
from bot.heartbeats.store import record
from bot.model import Tier
from bot.settings.safety import review
from bot.settings.watch import Heartbeat, Watchdog
from bot.store.db import Database
from tests.support import RecordingPlatform, make_settings
from tests.unit.test_dispatch import say

T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
BEAT_TOKEN = "beat-token-Kx4Wq9Lm2Vz7Rt5Nh8Pc3"

WATCHED = Heartbeat.model_validate(
    {
        "interval": "1m",
        "grace": "2m",
        "watchdog": {"source": "am"},
        "labels": {"service": "monitoring", "severity": "critical"},
    }
)
BACKUP = Heartbeat.model_validate(
    {
        "interval": "24h",
        "grace": "1h",
        "auth": {"bearer_token": BEAT_TOKEN},
        "labels": {"service": "backup", "severity": "warning"},
    }
)


def heartbeat_config() -> dict[str, Any]:
    return {
        "am-prod": WATCHED.model_dump(mode="json", exclude_defaults=True),
        "nightly-backup": BACKUP.model_dump(mode="json", exclude_defaults=True),
    }


def row(**changes: Any) -> Row:
    values: dict[str, Any] = {
        "name": "am-prod",
        "state": State.WAITING,
        "last_seen_at": None,
        "last_via": "",
        "beats": 0,
        "missing_since": None,
        "created_at": T0,
    }
    return Row(**(values | changes))


# -- when a heartbeat is missing ------------------------------------------------------------


def test_a_heartbeat_never_seen_is_missing_interval_plus_grace_after_tocsin_knew_it() -> None:
    waiting = row()
    assert deadline(WATCHED, waiting) == T0 + timedelta(minutes=3)
    assert move(WATCHED, waiting, T0 + timedelta(minutes=2, seconds=59)) is None
    assert move(WATCHED, waiting, T0 + timedelta(minutes=3)) is Move.OPEN


def test_each_beat_moves_the_deadline_on() -> None:
    seen = row(state=State.OK, last_seen_at=T0 + timedelta(minutes=10), beats=7)
    assert deadline(WATCHED, seen) == T0 + timedelta(minutes=13)
    assert move(WATCHED, seen, T0 + timedelta(minutes=12)) is None
    assert move(WATCHED, seen, T0 + timedelta(minutes=13, seconds=1)) is Move.OPEN


def test_a_missing_heartbeat_closes_only_on_a_beat_after_it_went_missing() -> None:
    since = T0 + timedelta(minutes=3)
    missing = row(state=State.MISSING, missing_since=since, last_seen_at=None)
    later = T0 + timedelta(hours=5)
    assert move(WATCHED, missing, later) is None  # still missing: nothing more to do
    old = row(state=State.MISSING, missing_since=since, last_seen_at=since - timedelta(minutes=3))
    assert move(WATCHED, old, later) is None
    back = row(state=State.MISSING, missing_since=since, last_seen_at=since + timedelta(seconds=1))
    assert move(WATCHED, back, later) is Move.CLOSE


@pytest.mark.parametrize(
    ("delta", "en", "zh"),
    [
        (timedelta(seconds=45), "45 s", "45 秒"),
        (timedelta(seconds=90), "90 s", "90 秒"),
        (timedelta(minutes=3), "3 min", "3 分钟"),
        (timedelta(hours=1), "1 h", "1 小时"),
        (timedelta(hours=25), "25 h", "25 小时"),
        (timedelta(days=3), "3 days", "3 天"),
    ],
)
def test_spans_read_in_whole_units(delta: timedelta, en: str, zh: str) -> None:
    assert (duration(delta, "en"), duration(delta, "zh")) == (en, zh)


# -- the blind-monitoring alert -------------------------------------------------------------


def test_a_missing_watchdog_says_monitoring_is_blind_and_tiers_by_its_labels() -> None:
    since = T0 + timedelta(minutes=3)
    missing = row(state=State.MISSING, last_seen_at=T0, last_via="am", missing_since=since)
    event = missing_alert("am-prod", WATCHED, missing, lang="en", tz="UTC", now=since)
    assert event.status == AlertStatus.FIRING and event.starts_at == since
    assert event.summary == "Monitoring is blind: no Watchdog from am for 3 min"
    assert event.annotations["description"] == (
        "Last beat at 03:00 UTC (Watchdog from am); expected every 1 min, with 2 min of grace."
    )
    assert event.labels == {
        "alertname": "HeartbeatMissing",
        "heartbeat": "am-prod",
        "service": "monitoring",
        "severity": "critical",
    }
    assert tier_for(event.labels, make_settings()) == Tier.P0
    zh = missing_alert("am-prod", WATCHED, missing, lang="zh", tz="Asia/Shanghai", now=since)
    assert zh.summary == "监控已失明：3 分钟未收到 am 的 Watchdog 告警"
    assert (
        "最后一次心跳在 11:00（北京时间）（来自 am 的 Watchdog）" in zh.annotations["description"]
    )


def test_a_missing_job_names_itself_and_the_same_row_makes_the_same_alert() -> None:
    since = T0 + timedelta(hours=25)
    missing = row(name="nightly-backup", state=State.MISSING, missing_since=since)
    one = missing_alert("nightly-backup", BACKUP, missing, lang="en", tz="UTC", now=since)
    two = missing_alert(
        "nightly-backup", BACKUP, missing, lang="en", tz="UTC", now=since + timedelta(seconds=9)
    )
    assert one.summary == "No heartbeat from nightly-backup for 25 h"
    assert "No beat since Tocsin began watching at" in one.annotations["description"]
    assert (one.fingerprint, one.starts_at) == (two.fingerprint, two.starts_at)
    back = back_alert("nightly-backup", BACKUP, row(last_seen_at=since, last_via="http"),
                      lang="en", tz="UTC")  # fmt: skip
    assert back.status == AlertStatus.RESOLVED and back.fingerprint == one.fingerprint
    assert back.summary == "nightly-backup beats again (last beat at 04:00 UTC, over HTTP)."


def test_a_configured_summary_wins() -> None:
    beat = WATCHED.model_copy(update={"summary": "Prometheus or Alertmanager is down"})
    missing = row(state=State.MISSING, missing_since=T0)
    event = missing_alert("am-prod", beat, missing, lang="zh", tz="UTC", now=T0)
    assert event.summary == "Prometheus or Alertmanager is down"


def test_a_watchdog_named_otherwise_is_called_by_its_name() -> None:
    beat = WATCHED.model_copy(
        update={"watchdog": Watchdog(source="am", matchers=('alertname="DeadMansSwitch"',))}
    )
    missing = row(state=State.MISSING, missing_since=T0)
    event = missing_alert("am-prod", beat, missing, lang="en", tz="UTC", now=T0)
    assert event.summary.startswith("Monitoring is blind: no DeadMansSwitch from am")


# -- /heartbeat list -------------------------------------------------------------------------


def wired(db: Database, clock: FakeClock, chat: RecordingPlatform) -> Tocsin:
    settings = make_settings(heartbeats=heartbeat_config())
    return bootstrap(settings, clock=clock, platforms={"fake": chat}, database=db)


async def test_heartbeat_list_in_english_and_chinese(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = wired(db, clock, chat)
    await app.engine.tick()  # the pass meets both heartbeats
    await record(db, ["am-prod"], "am", clock.now())
    clock.advance(timedelta(minutes=2))
    reply = await say(app, "U-CAROL", "/heartbeat list")
    assert reply.ok, reply.text
    lines = reply.text.splitlines()
    assert lines[0] == "Heartbeats:"
    assert lines[1] == (
        "🟢 am-prod: ok; last beat 03:00 UTC · 2 min ago (Watchdog from am); "
        "every 1 min + 2 min grace"
    )
    assert lines[2] == (
        "⚪ nightly-backup: waiting for a first beat; last beat never; every 24 h + 1 h grace"
    )
    clock.advance(timedelta(minutes=5))
    await app.engine.tick()  # no beat for 7 min: am-prod is missing
    zh = await say(app, "U-BOB", "/心跳")
    assert zh.ok, zh.text
    assert zh.text.splitlines()[1] == (
        "🔴 am-prod：自 03:03（世界标准时间） · 4 分钟前 起缺失；"
        "最后心跳 03:00（世界标准时间） · 7 分钟前（来自 am 的 Watchdog）；每 1 分钟，宽限 2 分钟"
    )
    assert (await say(app, "U-CAROL", "/tz Asia/Shanghai")).ok
    shanghai = await say(app, "U-CAROL", "/heartbeats")
    assert "🔴 am-prod: MISSING since 11:03 CST · 4 min ago; last beat 11:00 CST" in shanghai.text


async def test_heartbeat_list_without_heartbeats_says_so(
    db: Database, clock: FakeClock, chat: RecordingPlatform
) -> None:
    app = bootstrap(make_settings(), clock=clock, platforms={"fake": chat}, database=db)
    reply = await say(app, "U-CAROL", "/heartbeat")
    assert reply.ok and "No heartbeats are configured" in reply.text
    bad = await say(app, "U-CAROL", "/heartbeat start")
    assert not bad.ok


def test_a_heartbeats_secret_must_be_long_and_random_like_a_sources() -> None:
    beats = heartbeat_config()
    beats["nightly-backup"]["auth"] = {"bearer_token": "backup-123"}
    problems = review(make_settings(heartbeats=beats)).problems
    assert any(
        p.startswith("heartbeats.nightly-backup.auth.bearer_token: too short") for p in problems
    )
    assert not any("backup-123" in p for p in problems)
    assert review(make_settings(heartbeats=heartbeat_config())).problems == ()
