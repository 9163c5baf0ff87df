"""Reviews whose follow-ups stay open past a moment, for the noise report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import ConfigError
from bot.reviews.stale import StaleReview, stale_reviews
from bot.settings import parse_settings
from bot.store.db import Database
from bot.store.tables import followups, incidents, runs
from tests.support import base_config

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)


async def incident(conn: object, number: int, title: str, service: str) -> None:
    await conn.execute(  # type: ignore[attr-defined]
        incidents.insert().values(
            id=number,
            group_key=f"g{number}",
            route="ops",
            tier="P1",
            title=title,
            service=service,
            labels={},
            status="resolved",
            destinations=[],
            created_at=T0,
            updated_at=T0,
        )
    )


async def item(
    conn: object, incident_id: int | None, run_id: int | None, days: int, done: bool
) -> None:
    at = T0 + timedelta(days=days)
    await conn.execute(  # type: ignore[attr-defined]
        followups.insert().values(
            incident_id=incident_id,
            run_id=run_id,
            position=0,
            text="fix it",
            done=done,
            created_at=at,
            updated_at=at,
        )
    )


async def test_open_items_older_than_the_moment_are_grouped_by_review(db: Database) -> None:
    async with db.begin() as conn:
        await incident(conn, 1, "Checkout errors", "orders")
        await incident(conn, 2, "Slow search", "search")
        await item(conn, 1, 10, 0, False)
        await item(conn, 1, 10, 1, False)
        await item(conn, 1, 10, 2, True)
        await item(conn, 2, 11, 3, False)
        await item(conn, 2, 11, 9, False)  # written after the moment
        await item(conn, None, 12, 8, False)  # a review without an incident, too recent
    async with db.connect() as conn:
        found = await stale_reviews(conn, T0 + timedelta(days=7))
        only = await stale_reviews(conn, T0 + timedelta(days=7), ("search",))
        later = await stale_reviews(conn, T0 + timedelta(days=10))
    assert found == [
        StaleReview(1, 10, "Checkout errors", "orders", 2, T0),
        StaleReview(2, 11, "Slow search", "search", 1, T0 + timedelta(days=3)),
    ]
    assert only == [found[1]]
    assert [(r.run_id, r.open_items) for r in later] == [(10, 2), (11, 2), (12, 1)]
    assert later[2].title == "" and later[2].service == ""


async def test_a_review_without_an_incident_takes_its_runs_service(db: Database) -> None:
    async with db.begin() as conn:
        await conn.execute(
            runs.insert().values(
                id=40,
                action="rollback",
                service="search",
                environment="prod",
                version="v1.2",
                params={},
                backend="k8s",
                op_hash="h",
                state="succeeded",
                requested_by="gate",
                destinations=[],
                created_at=T0,
                updated_at=T0,
            )
        )
        await item(conn, None, 40, 0, False)
    async with db.connect() as conn:
        found = await stale_reviews(conn, T0 + timedelta(days=7), ("search",))
    assert found == [StaleReview(None, 40, "rollback search v1.2", "search", 1, T0)]


def test_report_and_chat_group_settings_are_checked() -> None:
    raw = base_config(
        reports={"noise": {"chats": ["fake:ops"], "day": "fri", "at": "17:30", "period": "14d"}},
        schedules={
            "primary": {
                "rotations": [{"name": "w", "participants": ["alice"], "start": "2027-01-04"}],
                "chat_groups": {"slack": "S0123ABCD", "feishu": "oc_1"},
            }
        },
    )
    settings = parse_settings(raw, env={})
    noise = settings.reports.noise
    assert noise is not None and (noise.day, str(noise.at), noise.period) == (
        "fri",
        "17:30:00",
        timedelta(days=14),
    )
    assert settings.schedules["primary"].chat_groups == {"slack": "S0123ABCD", "feishu": "oc_1"}
    raw["reports"] = {"noise": {"chats": []}}
    raw["schedules"]["primary"]["chat_groups"] = {"teams": "x"}
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, env={})
    text = "\n".join(caught.value.problems)
    assert "reports.noise.chats" in text
    assert "schedules.primary.chat_groups.teams" in text
