"""`/healthz` (the process answers), `/readyz` (database reachable, schema current), `/metrics`."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.metrics import Metrics
from bot.store.db import Database
from bot.store.migrate import current_revision, head_revision


def ops_routes(
    db: Database, metrics: Metrics, connections: Callable[[], dict[str, bool]] = dict
) -> list[Route]:
    """`connections` tells which chat platforms keeping a connection (WebSocket or stream
    modes) have it up right now: shown by /readyz and as `tocsin_chat_connected`."""

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        try:
            async with db.connect() as conn:
                await conn.execute(text("SELECT 1"))
            revision = await current_revision(db)
        except Exception as exc:
            return JSONResponse(
                {"status": "unavailable", "database": f"unreachable: {exc}"}, status_code=503
            )
        head = head_revision()
        if revision != head:
            return JSONResponse(
                {"status": "unavailable", "database": f"schema at {revision}, needs {head}"},
                status_code=503,
            )
        chats = connections()
        down = sorted(name for name, up in chats.items() if not up)
        return JSONResponse(
            {
                "status": "degraded" if down else "ready",
                "database": "ok",
                "schema": revision,
                "chat": {name: "connected" if up else "disconnected" for name, up in chats.items()},
            }
        )

    async def metrics_endpoint(_request: Request) -> Response:
        for name, up in connections().items():
            metrics.chat_connected.labels(name).set(1 if up else 0)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
    ]
