"""Incident cards carry what a responder needs, in the reader's language and time zone: the
alert's runbook, dashboard, source and a silence link, its description, when it really
started, the recent deploys as a section, and a status badge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.sources import alertmanager
from bot.bootstrap import Tocsin
from bot.cards import digest_card, render
from bot.clock import FakeClock
from bot.i18n import t
from bot.model import Card, Tone
from bot.settings import Settings
from tests.support import RecordingPlatform
from tests.unit.readers import english_words, visible_text
from tests.unit.test_dispatch import say

RUNBOOK = "https://runbooks.example.com/orders/high-error-rate"
GENERATOR = "http://prometheus.example.com:9090/graph?g0.expr=rate"
DESCRIPTION = "5xx ratio is 12.4% over the last 5m (threshold 5%)."


def alertmanager_payload(**annotations: str) -> dict[str, Any]:
    """An Alertmanager v4 webhook body with one firing alert that started at 02:48 UTC."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "status": "firing",
        "externalURL": "http://alertmanager.example.com:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "HighErrorRate",
                    "service": "orders",
                    "env": "prod",
                    "severity": "critical",
                },
                "annotations": {
                    "summary": "orders is returning errors",
                    "description": DESCRIPTION,
                    "runbook_url": RUNBOOK,
                    **annotations,
                },
                "startsAt": "2026-01-05T02:48:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": GENERATOR,
                "fingerprint": "4f2a9c1e7b3d5a60",
            }
        ],
    }


async def ingest_payload(app: Tocsin, payload: dict[str, Any]) -> int:
    events = alertmanager.parse(payload, "am").strict()
    result = await app.ingest.ingest(events)
    await app.engine.tick()
    return int(result.incident_ids[0])


async def card_of(app: Tocsin, number: int, lang: str = "en", tz: str = "UTC") -> Card:
    settings: Settings = app.settings
    async with app.services.db.connect() as conn:
        card = await render(
            conn,
            f"incident:{number}",
            app.services.clock.now(),
            lang,
            silence_choices=settings.incidents.silence_choices,
            tz=tz,
        )
    assert card is not None
    return card


def field(card: Card, label: str) -> str:
    return next(f.value for f in card.fields if f.label == label)


async def test_an_alertmanager_alert_gives_its_links_and_description(tocsin: Tocsin) -> None:
    number = await ingest_payload(tocsin, alertmanager_payload(dashboard_url="ftp://x/d"))
    card = await card_of(tocsin, number)
    links = {link.label: link.url for link in card.links}
    assert links["Runbook"] == RUNBOOK
    assert links["Alert source"] == GENERATOR
    silence = links["Silence in Alertmanager"]
    assert silence.startswith("http://alertmanager.example.com:9093/#/silences/new?filter=")
    assert "alertname%3D%22HighErrorRate%22" in silence
    assert "Dashboard" not in links, "only http(s) links are shown"
    assert card.body.splitlines() == ["orders is returning errors", DESCRIPTION]
    assert card.status == "triggered" and card.badge is not None
    assert (card.badge.word, card.badge.tone) == ("Triggered", Tone.ALERT)


async def test_started_is_the_alerts_start_in_the_readers_zone(
    tocsin: Tocsin, clock: FakeClock
) -> None:
    number = await ingest_payload(tocsin, alertmanager_payload())
    assert clock.now() == datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    assert field(await card_of(tocsin, number), "Started") == "02:48 UTC · 12 min ago"
    shanghai = await card_of(tocsin, number, "zh", "Asia/Shanghai")
    assert field(shanghai, "开始时间") == "10:48（北京时间） · 12 分钟前"
    clock.advance(timedelta(hours=3))
    assert field(await card_of(tocsin, number), "Started") == "02:48 UTC · 3 h ago"
    clock.advance(timedelta(days=1))
    assert field(await card_of(tocsin, number), "Started") == "2026-01-05 02:48 UTC · 27 h ago"


async def test_links_are_de_duplicated_and_at_most_five(tocsin: Tocsin) -> None:
    payload = alertmanager_payload(
        runbook=RUNBOOK,  # the same runbook twice
        dashboard_url="https://grafana.example.com/d/1",
        grafana_url="https://grafana.example.com/d/2",
        panel_url="https://grafana.example.com/d/1?viewPanel=2",
    )
    card = await card_of(tocsin, await ingest_payload(tocsin, payload))
    urls = [link.url for link in card.links]
    assert len(urls) == 5 and len(set(urls)) == 5
    assert urls[:4] == [
        RUNBOOK,
        "https://grafana.example.com/d/1",
        "https://grafana.example.com/d/2",
        "https://grafana.example.com/d/1?viewPanel=2",
    ]


async def test_a_chinese_card_has_no_english_beyond_names(tocsin: Tocsin) -> None:
    number = await ingest_payload(tocsin, alertmanager_payload())
    await say(tocsin, "U-ALICE", f"/ack {number}")
    card = await card_of(tocsin, number, "zh", "Asia/Shanghai")
    names = ["HighErrorRate", "orders", "prod", "ops", "alice", "CST", "Alertmanager"]
    # the alert's own summary and description are the rule's words, shown as written
    text = visible_text(card).replace(card.body, "")
    assert english_words(text, names) == []
    assert field(card, "告警数") == "1 条告警中，共 1 条"
    assert card.badge is not None and card.badge.word == "已认领"


async def test_recent_deploys_are_a_section_of_one_line_each() -> None:
    from bot.cards import incident_card
    from bot.incidents.aggregate import Incident
    from bot.incidents.status import Status
    from bot.model import Tier

    now = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    row = Incident(1, "g", "ops", Tier.P1, "Errors", Status.TRIGGERED, now, now, service="orders")
    lines = ["#7 deploy v1 → v2 · Succeeded · 02:40 UTC", "#8 deploy v2 → v3 · Failed · 02:50"]
    card = incident_card(row, now, "en", silence_choices=(), recent=lines)
    assert [(s.title, s.lines) for s in card.sections] == [("Recent deploys", tuple(lines))]
    assert all(f.label != "Recent deploys" for f in card.fields)


async def test_a_digest_card_has_a_badge(tocsin: Tocsin, chat: RecordingPlatform) -> None:
    number = await ingest_payload(tocsin, alertmanager_payload())
    async with tocsin.services.db.connect() as conn:
        from sqlalchemy import select

        from bot.store.tables import incidents

        rows = (await conn.execute(select(incidents).where(incidents.c.id == number))).all()
    card = digest_card(1, rows, tocsin.services.clock.now(), "zh")
    assert card.badge is not None and card.badge.word == t("status.triggered", "zh")
    assert "1 个未恢复，共 1 个" in [f.value for f in card.fields]
