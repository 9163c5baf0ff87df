"""A local fake of Slack: the Web API over HTTP and Socket Mode over WebSocket, on 127.0.0.1.

`FakeSlackApi` answers the Web API methods Tocsin calls (``auth.test``, ``chat.postMessage``,
``chat.update``, ``chat.postEphemeral``, ``conversations.open``, ``users.info``,
``usergroups.users.update``, ``apps.connections.open``) like Slack does, keeps the messages it
was sent (updated in place) and the user groups' members, records every call, and lets a test
script failures (``fail``) or hold a method until released
(``hold``). ``/hooks/<name>`` stands in for slash commands' ``response_url``.

`FakeSocketMode` is a WebSocket server: it says ``hello`` to each connection, sends envelopes a
test gives it and records the client's acknowledgements.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.fake_http import FakeHttpServer

BOT_USER = "U0TOCSIN"
BOT_ID = "B0TOCSIN"
TEAM = "T0TEAM"
APP_METHODS = frozenset({"apps.connections.open"})


async def eventually(check: Callable[[], bool], *, timeout: float = 5.0, what: str = "") -> None:
    """Wait (bounded) until `check()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.01)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str


@dataclass
class Failure:
    status: int = 200
    error: str = ""
    retry_after: float | None = None


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    updates: int = 0


@dataclass
class FakeSlackApi(FakeHttpServer):
    bot_token: str = "xoxb-test-token"
    app_token: str = "xapp-test-token"
    channels: set[str] = field(default_factory=lambda: {"C0ALERTS", "C0OTHER"})
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=lambda: {"S0ONCALL": []})
    """User groups by id, with their members."""
    ws_url: str = ""
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], Posted] = field(default_factory=dict)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(100))

    # -- lifecycle ------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/hooks/{name}", self._hook)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    # -- scripting ------------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str = "",
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        self.failures[method].extend(Failure(status, error, retry_after) for _ in range(times))

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def in_channel(self, channel: str) -> list[Posted]:
        return [m for (c, _), m in self.messages.items() if c == channel]

    # -- HTTP ---------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            params.update(dict(await request.post()))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        self.calls.append(Call(method, params, token))
        if method in self.held:
            await self.held[method].wait()
        if self.failures[method]:
            failure = self.failures[method].pop(0)
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(int(failure.retry_after))
            if failure.status >= 500 and not failure.error:
                return web.Response(status=failure.status, text="upstream trouble", headers=headers)
            body = {"ok": False, "error": failure.error or "ratelimited"}
            return web.json_response(body, status=failure.status, headers=headers)
        expected = self.app_token if method in APP_METHODS else self.bot_token
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        answer: dict[str, Any] = handler(params)
        return web.json_response(answer)

    async def _hook(self, request: web.Request) -> web.Response:
        self.hooks.append({"name": request.match_info["name"], **(await request.json())})
        return web.Response(text="ok")

    # -- methods ------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"1767225600.{next(self._ts):06d}"

    def _known(self, channel: str) -> bool:
        return channel in self.channels

    def _auth_test(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://example.slack.com/",
            "team": "Example",
            "user": "tocsin",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
        }

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if not self._known(channel):
            return {"ok": False, "error": "channel_not_found"}
        ts = self._next_ts()
        blocks = list(params.get("blocks") or [])
        thread = params.get("thread_ts")
        self.messages[(channel, ts)] = Posted(channel, ts, params.get("text", ""), blocks, thread)
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": params.get("text")}}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (str(params.get("channel", "")), str(params.get("ts", "")))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        posted = self.messages[key]
        posted.text, posted.blocks = params.get("text", ""), list(params.get("blocks") or [])
        posted.updates += 1
        return {"ok": True, "channel": key[0], "ts": key[1], "text": posted.text}

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self._known(str(params.get("channel", ""))):
            return {"ok": False, "error": "channel_not_found"}
        self.ephemerals.append(params)
        return {"ok": True, "message_ts": self._next_ts()}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("users", ""))
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        channel = "D" + user[1:]
        self.channels.add(channel)
        return {"ok": True, "channel": {"id": channel}}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _usergroups_users_update(self, params: dict[str, Any]) -> dict[str, Any]:
        """As Slack documents it: ``users`` (comma-separated) replace the whole membership."""
        group = str(params.get("usergroup", ""))
        if not group:
            return {"ok": False, "error": "missing_argument"}
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        raw = params.get("users")
        if raw is None:
            return {"ok": False, "error": "no_users_provided"}
        users = [u for u in str(raw).split(",") if u]
        if not users or any(not u.startswith(("U", "W")) for u in users):
            return {"ok": False, "error": "invalid_users"}
        if any(u not in self.users for u in users):
            return {"ok": False, "error": "failed_for_some_users"}
        self.usergroups[group] = users
        return {
            "ok": True,
            "usergroup": {
                "id": group,
                "team_id": TEAM,
                "is_usergroup": True,
                "name": "On call",
                "handle": "oncall",
                "is_external": False,
                "date_create": 1767225600,
                "date_update": 1767225600,
                "date_delete": 0,
                "prefs": {"channels": [], "groups": []},
                "users": users,
                "user_count": len(users),
            },
        }

    def _apps_connections_open(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.ws_url}


def slack_user(user_id: str, display_name: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": display_name.lower(),
        "real_name": display_name,
        "profile": {"display_name": display_name, "real_name": display_name},
    }


class FakeSocketMode:
    """A Socket Mode WebSocket server: hello, envelopes, acknowledgements."""

    def __init__(self) -> None:
        self.connections = 0
        self.acks: dict[str, dict[str, Any]] = {}
        self.current: ServerConnection | None = None
        self.close_codes: list[int | None] = []
        self.port = 0
        self._server: Server | None = None

    async def start(self) -> None:
        self._server = await serve(self._connection, "127.0.0.1", 0)
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=test"

    async def _connection(self, ws: ServerConnection) -> None:
        self.connections += 1
        self.current = ws
        await ws.send(json.dumps({"type": "hello", "num_connections": 1}))
        try:
            async for raw in ws:
                message = json.loads(raw)
                if isinstance(message, dict) and "envelope_id" in message:
                    self.acks[message["envelope_id"]] = message
        except ConnectionClosed:
            pass
        finally:
            self.close_codes.append(ws.close_code)

    async def connected(self, count: int = 1) -> None:
        await eventually(lambda: self.connections >= count, what=f"{count} connection(s)")
        await eventually(lambda: self.current is not None, what="a live connection")

    async def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int | None = None,
    ) -> str:
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind == "slash_commands",
        }
        if retry_attempt is not None:
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = "timeout"
        assert self.current is not None, "no Socket Mode client is connected"
        await self.current.send(json.dumps(envelope))
        return envelope_id

    async def send_raw(self, message: dict[str, Any]) -> None:
        assert self.current is not None, "no Socket Mode client is connected"
        await self.current.send(json.dumps(message))

    async def acked(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        await eventually(lambda: envelope_id in self.acks, timeout=timeout, what="an ack")
        return self.acks[envelope_id]

    async def drop(self) -> None:
        """Close the current connection from the server side, as Slack does now and then."""
        assert self.current is not None
        current, self.current = self.current, None
        await current.close()
