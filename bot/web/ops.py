"""`/healthz` (the process answers), `/readyz` (database reachable, schema current, chat
connections up, chat groups following their rotation), `/metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.errors import DatabaseUnavailable
from bot.metrics import Metrics
from bot.oncall.groups_state import group_problems
from bot.store.db import Database
from bot.store.migrate import current_revision, head_revision
from bot.store.outage import RETRY_MIN, classify
from bot.store.sizes import TableSizes

READY_TIMEOUT = 2.0
"""Seconds /readyz waits for the database before saying it is unavailable."""


def ops_routes(
    db: Database, metrics: Metrics, connections: Callable[[], dict[str, bool]] = dict
) -> list[Route]:
    """`connections` tells which chat platforms keeping a connection (WebSocket or stream
    modes) have it up right now: shown by /readyz and as `tocsin_chat_connected`."""

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        try:
            revision = await _revision(db)
        except Exception as exc:
            unavailable = classify(exc)
            if unavailable is None:
                return JSONResponse(
                    {"status": "unavailable", "database": f"unreachable: {exc}"}, status_code=503
                )
            db.outage.failed(unavailable, what="readiness check")
            return JSONResponse(
                {"status": "unavailable", "database": f"unreachable: {unavailable}"},
                status_code=503,
                headers={"Retry-After": str(RETRY_MIN)},
            )
        head = head_revision()
        if revision != head:
            return JSONResponse(
                {"status": "unavailable", "database": f"schema at {revision}, needs {head}"},
                status_code=503,
            )
        chats = connections()
        down = sorted(name for name, up in chats.items() if not up)
        groups = await _groups(db)
        body: dict[str, object] = {
            "status": "degraded" if down or groups else "ready",
            "database": "ok",
            "schema": revision,
            "chat": {name: "connected" if up else "disconnected" for name, up in chats.items()},
        }
        if groups:
            body["chat_groups"] = groups
        return JSONResponse(body)

    sizes = TableSizes(db, metrics)  # tocsin_table_rows, read at most once a minute

    async def metrics_endpoint(_request: Request) -> Response:
        await sizes.refresh()
        for name, up in connections().items():
            metrics.chat_connected.labels(name).set(1 if up else 0)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
    ]


async def _groups(db: Database) -> dict[str, str]:
    """Chat groups that failed to follow their rotation or lack someone (`bot.oncall.groups`);
    a slow answer here only leaves them out, the database check above already passed."""
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            async with db.connect() as conn:
                return await group_problems(conn)
    except TimeoutError:
        return {}


async def _revision(db: Database) -> str | None:
    """The schema revision, after a round trip; a database that does not answer within
    READY_TIMEOUT counts as unavailable (a probe must not hang with it)."""
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            async with db.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return await current_revision(db)
    except TimeoutError:
        raise DatabaseUnavailable(f"no answer within {READY_TIMEOUT:g} s") from None
