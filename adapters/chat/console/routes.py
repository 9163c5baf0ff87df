"""The console's HTTP and WebSocket routes.

==========================================  =====================================================
``GET /console``                            the chat page
``GET /console/static/{file}``              its script and style sheet (package data)
``WS  /console/ws?chat=ops``                the live conversation (see `conversation`)
``GET /console/api/config``                 ``{"auth", "chats", "demo_alert", "language",
                                            "texts"}`` for the page: the configured language
                                            and the page's labels in every language
``GET /console/api/transcript?chat=ops``    the chat's messages, oldest first, cards badged
                                            in the reader's language (token mode:
                                            ``Authorization: Bearer <console token>``; demo
                                            mode: ``&user=<id>`` adds that user's private ones)
``GET /console/api/users``                  demo mode only: who the page may pretend to be
``POST /console/api/demo-alert``            demo mode only: fire the demo alert
==========================================  =====================================================

With ``console.enabled: false`` there are no routes at all. In token mode a failed bearer counts
towards the sign-in back-off like a failed hello (see `throttle`); a throttled one gets 429.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from importlib import resources

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from adapters.chat.console.conversation import (
    HISTORY_LIMIT,
    ConsoleContext,
    serve,
    throttled_response,
)
from adapters.chat.console.hub import ConsoleHub
from adapters.chat.console.identity import ConsoleUser, Directory
from adapters.chat.console.platform import ConsolePlatform
from adapters.chat.console.reader import message_json, reader_of
from bot.authz.throttle import Attempt, SignInGuard, Throttled
from bot.clock import Clock
from bot.errors import AuthenticationError, InputError, NotFound
from bot.i18n import LANGUAGES, t
from bot.inbound import InboundHandler
from bot.metrics import Metrics
from bot.prefs import Reader
from bot.settings.schema import Console, User
from bot.texts import CATALOGUE

log = structlog.stdlib.get_logger(__name__)

_ASSETS = {
    "console.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_MAX_TRANSCRIPT = 1000
_TEXTS = "console."


@cache
def page_texts() -> dict[str, dict[str, str]]:
    """The page's labels (``console.*`` in the catalogue) by language, keyed without prefix."""
    keys = [key for key in CATALOGUE if key.startswith(_TEXTS)]
    return {lang: {key[len(_TEXTS) :]: t(key, lang) for key in keys} for lang in LANGUAGES}


@cache
def _asset(name: str) -> bytes:
    return resources.files("adapters.chat.console").joinpath("static", name).read_bytes()


def _problem(exc: InputError) -> JSONResponse:
    if isinstance(exc, Throttled):
        return throttled_response(exc)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
    return JSONResponse({"error": str(exc)}, status_code=exc.status_code, headers=headers)


def console_routes(
    platform: ConsolePlatform,
    hub: ConsoleHub,
    inbound: InboundHandler,
    settings_console: Console,
    users: Sequence[User],
    clock: Clock,
    demo_alert: Callable[[], Awaitable[str]] | None = None,
    metrics: Metrics | None = None,
    *,
    default_language: str = "en",
    default_timezone: str = "UTC",
) -> list[BaseRoute]:
    """The console's routes, ready to add to the one ASGI app. `ConfigError` for tokens that
    are too short. The defaults are the configured language and time zone (``tocsin.*``)."""
    if not settings_console.enabled:
        return []
    directory = Directory(settings_console, users)
    guard = SignInGuard(platform.db, clock, metrics)
    default = Reader(default_language, default_timezone)
    ctx = ConsoleContext(
        platform, hub, inbound, directory, clock, guard=guard, default_reader=default
    )

    async def page(request: Request) -> Response:
        return Response(
            _asset("console.html"), media_type=_ASSETS["console.html"], headers=_PAGE_HEADERS
        )

    async def static(request: Request) -> Response:
        name = request.path_params["file"]
        if name not in _ASSETS or name == "console.html":
            return JSONResponse({"error": "not found"}, status_code=404)
        return Response(_asset(name), media_type=_ASSETS[name], headers=_PAGE_HEADERS)

    async def config(request: Request) -> Response:
        return JSONResponse(
            {
                "auth": directory.mode,
                "chats": list(platform.chats),
                "demo_alert": directory.demo and demo_alert is not None,
                "language": default.lang,
                "texts": page_texts(),
            }
        )

    async def transcript(request: Request) -> Response:
        try:
            viewer = await _signed_in_viewer(request, directory, guard)
            chat = ctx.chat_for(request.query_params.get("chat"), viewer)
            limit = _limit(request.query_params.get("limit"))
        except InputError as exc:
            return _problem(exc)
        names = viewer.names if viewer else frozenset[str]()
        messages = await platform.history(chat, names, limit=limit)
        found = await reader_of(platform.db, viewer, chat, default) if viewer else default
        return JSONResponse([message_json(message, found.lang) for message in messages])

    async def list_users(request: Request) -> Response:
        if not directory.demo:
            return JSONResponse({"error": "only in demo mode"}, status_code=404)
        return JSONResponse([user.to_json() for user in directory.users()])

    async def fire_demo_alert(request: Request) -> Response:
        if not directory.demo or demo_alert is None:
            return JSONResponse({"error": "only in demo mode"}, status_code=404)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send Content-Type: application/json"}, status_code=415)
        try:
            detail = await demo_alert()
        except Exception as exc:
            log.exception("console.demo_alert_failed")
            return JSONResponse({"ok": False, "detail": str(exc)}, status_code=500)
        return JSONResponse({"ok": True, "detail": detail})

    async def socket(websocket: WebSocket) -> None:
        await serve(websocket, ctx)

    return [
        Route("/console", page, methods=["GET"]),
        Route("/console/static/{file}", static, methods=["GET"]),
        Route("/console/api/config", config, methods=["GET"]),
        Route("/console/api/transcript", transcript, methods=["GET"]),
        Route("/console/api/users", list_users, methods=["GET"]),
        Route("/console/api/demo-alert", fire_demo_alert, methods=["POST"]),
        WebSocketRoute("/console/ws", socket),
    ]


async def _signed_in_viewer(
    request: Request, directory: Directory, guard: SignInGuard
) -> ConsoleUser | None:
    """`_viewer`, throttled in token mode: `Throttled` while this address is blocked."""
    if directory.demo:
        return _viewer(request, directory)
    attempt = Attempt(request.client.host if request.client else "unknown", via="transcript")
    await guard.check(attempt)
    try:
        return _viewer(request, directory)
    except AuthenticationError:
        await guard.failed(attempt)
        raise


def _viewer(request: Request, directory: Directory) -> ConsoleUser | None:
    """Who reads the transcript: the bearer (token mode) or ``?user=`` (demo mode, optional)."""
    if not directory.demo:
        return directory.from_bearer(request.headers.get("authorization"))
    user_id = request.query_params.get("user")
    if user_id is None:
        return None
    user = directory.by_id(user_id)
    if user is None:
        raise NotFound(f"there is no user {user_id!r}")
    return user


def _limit(raw: str | None) -> int:
    if raw is None:
        return HISTORY_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise InputError("limit must be a whole number") from None
    if not 1 <= limit <= _MAX_TRANSCRIPT:
        raise InputError(f"limit must be between 1 and {_MAX_TRANSCRIPT}")
    return limit
