"""What a health gate says aloud in its run's chats, threaded under the run's card: the moment
it fails ("🚨 Health gate failed for orders v1.4.4-bad in prod: error_rate 0.3 > 0.05 —
rolling back to v1.4.1") and when it passes. The card changes too, but a failed release must
not wait for someone to look at a card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.deploys.run import Run
from bot.deploys.run_store import run_ref
from bot.gates.analysis import Measurement
from bot.outbox.enqueue import Outbox


class Alarms:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def failed(
        self,
        conn: AsyncConnection,
        run: Run,
        what: str,
        now: datetime,
        *,
        rollback: Run | None = None,
        countdown: timedelta | None = None,
        after_rollback: bool = False,
    ) -> None:
        """The gate of `run` failed on `what`: a `rollback` started, a `countdown` runs, or (with
        neither) it waits for a person."""
        params: dict[str, object] = {**_about(run), "what": what}
        if after_rollback:
            key = "gate.alarm.after_rollback"
        elif rollback is not None:
            key = "gate.alarm.rolling_back"
            params.update(target=rollback.version, rollback=rollback.id)
        elif countdown is not None:
            key = "gate.alarm.countdown"
            params["minutes"] = max(1, round(countdown.total_seconds() / 60))
        else:
            key = "gate.alarm.waiting"
        await self._tell(conn, run, key, params, now)

    async def verified(self, conn: AsyncConnection, run: Run, now: datetime) -> None:
        await self._tell(conn, run, "gate.verified", _about(run), now)

    async def _tell(
        self, conn: AsyncConnection, run: Run, key: str, params: dict[str, object], now: datetime
    ) -> None:
        await self.outbox.text(
            conn, run.destinations, key, params, now=now, reply_to_card=run_ref(run.id), priority=1
        )


def failing(taken: Mapping[str, Sequence[Measurement]]) -> str:
    """What failed, e.g. ``error_rate 0.3 > 0.05``: the last failed measurement of each metric
    that has one (else the last measurement of each)."""
    lines = [
        f"{name} {_failed(found)[-1].note.removesuffix(' (failed)')}"
        for name, found in taken.items()
        if _failed(found)
    ]
    if not lines:
        lines = [f"{name} {found[-1].note}" for name, found in taken.items() if found]
    return "; ".join(lines)


def _failed(found: Sequence[Measurement]) -> list[Measurement]:
    return [m for m in found if m.outcome == "failure"]


def _about(run: Run) -> dict[str, object]:
    return {
        "id": run.id,
        "service": run.service,
        "environment": run.environment,
        "version": run.version,
    }
