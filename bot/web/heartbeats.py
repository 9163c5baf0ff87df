"""`POST /api/v1/heartbeats/{name}`: a job saying it is alive.

Credentials are the heartbeat's `auth`, checked exactly as an alert source's (a bearer token,
or an HMAC of the body with a timestamp). The body means nothing but is read, within a small
limit, since an HMAC covers it. The beat is stored before the answer: a 200 means the beat
counts on every replica. A database outage is a 503 (the app's `DatabaseGuard`), so the
sender's retry lands once the database is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.clock import Clock
from bot.errors import InputError
from bot.heartbeats.store import HTTP, record
from bot.settings.watch import Heartbeat
from bot.store.db import Database
from bot.web.body import read_body

PATH = "/api/v1/heartbeats/{name}"
MAX_BODY = 64 * 1024
"""Bytes a beat's body may have: it is ignored, so a beat needs none."""
Verifier = Callable[..., None]


def heartbeat_routes(
    beats: Mapping[str, Heartbeat], db: Database, clock: Clock, verify: Verifier
) -> list[Route]:
    async def beat(request: Request) -> Response:
        name = request.path_params["name"]
        if request.method != "POST":
            return _error(405, "use POST", headers={"Allow": "POST"})
        heartbeat = beats.get(name)
        if heartbeat is None:
            return _error(404, f"no heartbeat named {name!r} is configured")
        if heartbeat.auth is None:
            return _error(
                403,
                f"heartbeat {name!r} has no auth: it beats by its watchdog alert only "
                f"(set heartbeats.{name}.auth to accept POST {request.url.path})",
            )
        try:
            body = await read_body(request, MAX_BODY)
            query = parse_qs(request.url.query)
            verify(heartbeat.auth, request.headers, body, now=time.time(), query=query)
        except InputError as exc:
            return _error(exc.status_code, str(exc))
        now = clock.now()
        await record(db, [name], HTTP, now)
        return JSONResponse({"name": name, "last_seen_at": now.isoformat()})

    return [Route(PATH, beat, methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"])]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
