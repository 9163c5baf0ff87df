"""`GET /api/v1/schedules/{name}.ics?token=…`: a schedule as a calendar feed.

The token is an HMAC of the schedule's name under the secret key (`/oncall ical` gives the URL),
so a calendar app can subscribe without a sign-in and nobody can guess another schedule's feed.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.clock import Clock
from bot.oncall.ical import export_ics
from bot.oncall.store import active_overrides
from bot.settings import Settings
from bot.store.db import Database

PAST, AHEAD = timedelta(days=14), timedelta(days=90)


def feed_token(secret: str, schedule: str) -> str:
    key = hashlib.sha256(b"tocsin-ical:" + secret.encode()).digest()
    return hmac.new(key, schedule.encode(), hashlib.sha256).hexdigest()[:32]


def feed_url(public_url: str, secret: str, schedule: str) -> str:
    token = feed_token(secret, schedule)
    return f"{public_url.rstrip('/')}/api/v1/schedules/{quote(schedule)}.ics?token={token}"


def schedule_routes(settings: Settings, db: Database, clock: Clock) -> list[Route]:
    names = {u.id: u.name or u.id for u in settings.users}

    async def feed(request: Request) -> Response:
        name = request.path_params["name"]
        schedule = settings.schedules.get(name)
        token = request.query_params.get("token", "")
        expected = feed_token(settings.tocsin.secret_key, name)
        if schedule is None or not hmac.compare_digest(token.encode(), expected.encode()):
            return PlainTextResponse("unknown schedule or wrong token\n", status_code=404)
        now = clock.now()
        async with db.connect() as conn:
            overrides = (await active_overrides(conn, now - PAST, name)).get(name, [])
        body = export_ics(name, schedule, now - PAST, now + AHEAD, overrides, names=names, now=now)
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="{quote(name)}.ics"'},
        )

    return [Route("/api/v1/schedules/{name}.ics", feed, methods=["GET"])]
