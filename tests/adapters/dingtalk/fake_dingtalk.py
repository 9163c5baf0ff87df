"""A local fake of DingTalk on 127.0.0.1: the OpenAPI and old API over HTTP, the Stream gateway
over WebSocket.

`FakeDingTalkApi` (aiohttp) answers what Tocsin and the SDK call: the Stream gateway's
``connections/open``, ``oauth2/accessToken``, ``card/instances/createAndDeliver``,
``PUT card/instances`` (keeping each card's public and per-user private data),
``robot/groupMessages/send``, ``robot/oToMessages/batchSend``, session webhooks
(``/robot/sendBySession``) and custom robots (``/robot/send``, checking 加签 with the robot's
secret). It records every request, checks access tokens, and lets a test script failures
(``fail``) or hold a path until released (``hold``).

`FakeGateway` (websockets) accepts connections carrying a ticket the API issued, sends the frames
a test gives it, records what the client sends back (acknowledgements, by message id), and can
drop a connection or go silent (stop reading, so pings are never answered).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.fake_http import FakeHttpServer

CLIENT_ID = "dingtocsinclient"
CLIENT_SECRET = "tocsin-test-app-secret"
ROBOT_TOKEN = "robot-token-ops"
ROBOT_SECRET = "SECtest-robot-secret"


async def eventually(check: Callable[[], bool], *, timeout: float = 10.0, what: str = "") -> None:
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
    path: str
    body: dict[str, Any]
    token: str
    query: dict[str, str]
    at: datetime | None = None


@dataclass
class Failure:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None


@dataclass
class CardShown:
    space: str
    template: str
    public: dict[str, str]
    private: dict[str, dict[str, str]] = field(default_factory=dict)
    updates: int = 0

    def seen_by(self, user: str) -> dict[str, str]:
        return self.public | self.private.get(user, {})


@dataclass
class FakeDingTalkApi(FakeHttpServer):
    ws_url: str = ""
    now: Callable[[], datetime] | None = None
    groups: set[str] = field(default_factory=lambda: {"cidOPS==", "cidOTHER=="})
    calls: list[Call] = field(default_factory=list)
    cards: dict[str, CardShown] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    """Robot messages (group and 1:1) and session webhook replies, in order."""
    robot_posts: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    token_lifetime: int = 7200
    _tokens: set[str] = field(default_factory=set)
    _tickets: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- lifecycle ------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{path:.*}", self._handle)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def session_webhook(self, name: str) -> str:
        return f"{self.base_url}/robot/sendBySession?session={name}"

    def robot_webhook(self, token: str = ROBOT_TOKEN) -> str:
        return f"{self.base_url}/robot/send?access_token={token}"

    # -- scripting ------------------------------------------------------------------------------

    def fail(
        self,
        path: str,
        *,
        status: int = 200,
        body: dict[str, Any] | None = None,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        self.failures[path].extend(Failure(status, body or {}, retry_after) for _ in range(times))

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def issued_ticket(self, ticket: str) -> bool:
        return ticket in self._tickets

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    # -- HTTP ---------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        body: dict[str, Any] = {}
        if request.can_read_body:
            try:
                loaded = json.loads(await request.read())
            except ValueError:
                return web.json_response({"code": "InvalidParameter"}, status=400)
            body = loaded if isinstance(loaded, dict) else {}
        call = Call(
            request.method,
            path,
            body,
            request.headers.get("x-acs-dingtalk-access-token", ""),
            dict(request.query),
            self.now() if self.now else None,
        )
        self.calls.append(call)
        if path in self.held:
            await self.held[path].wait()
        if self.failures[path]:
            failure = self.failures[path].pop(0)
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(int(failure.retry_after))
            return web.json_response(failure.body, status=failure.status, headers=headers)
        handler = ROUTES.get((request.method, path))
        if handler is None:
            return web.json_response({"code": "NotFound", "message": path}, status=404)
        needs_token = path.startswith("/v1.0/") and handler.__name__ not in PUBLIC
        if needs_token and call.token not in self._tokens:
            return web.json_response(
                {"code": "InvalidAuthentication", "message": "bad token"}, status=401
            )
        status, answer = handler(self, call)
        return web.json_response(answer, status=status)

    def _open(self, call: Call) -> tuple[int, dict[str, Any]]:
        body = call.body
        if (body.get("clientId"), body.get("clientSecret")) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"code": "InvalidClient"}
        ticket = f"ticket-{next(self._ids)}"
        self._tickets.add(ticket)
        return 200, {"endpoint": self.ws_url, "ticket": ticket}

    def _token(self, call: Call) -> tuple[int, dict[str, Any]]:
        if (call.body.get("appKey"), call.body.get("appSecret")) != (CLIENT_ID, CLIENT_SECRET):
            return 400, {"code": "invalidClientIdOrSecret", "message": "bad app key or secret"}
        token = f"token-{next(self._ids)}"
        self._tokens.add(token)
        return 200, {"accessToken": token, "expireIn": self.token_lifetime}

    def _create(self, call: Call) -> tuple[int, dict[str, Any]]:
        body = call.body
        space = str(body.get("openSpaceId", ""))
        params = body.get("cardData", {}).get("cardParamMap", {})
        if not all(isinstance(v, str) for v in params.values()):
            return 400, {"code": "param.invalid", "message": "cardParamMap values must be strings"}
        kind, _, target = space.removeprefix("dtv1.card//").partition(".")
        delivered = kind == "IM_ROBOT" or (kind == "IM_GROUP" and target in self.groups)
        result = {
            "outTrackId": body.get("outTrackId"),
            "deliverResults": [
                {
                    "spaceType": kind,
                    "spaceId": target,
                    "success": delivered,
                    "errorMsg": "" if delivered else "robot not in the group",
                }
            ],
        }
        if delivered:
            self.cards[str(body["outTrackId"])] = CardShown(
                space, str(body.get("cardTemplateId")), dict(params)
            )
        return 200, {"success": True, "result": result}

    def _update(self, call: Call) -> tuple[int, dict[str, Any]]:
        card = self.cards.get(str(call.body.get("outTrackId")))
        if card is None:
            return 400, {"code": "param.cardNotExist", "message": "card not found"}
        public = call.body.get("cardData", {}).get("cardParamMap")
        if public is not None:
            card.public.update(public)
            card.updates += 1
        for user, data in (call.body.get("privateData") or {}).items():
            card.private.setdefault(user, {}).update(data.get("cardParamMap", {}))
        return 200, {"success": True, "result": True}

    def _group(self, call: Call) -> tuple[int, dict[str, Any]]:
        conversation = call.body.get("openConversationId")
        if conversation not in self.groups:
            return 400, {"code": "resource.not.found", "message": "group not found"}
        self.sent.append({"to": conversation, **_message(call.body)})
        return 200, {"processQueryKey": f"q-{next(self._ids)}"}

    def _users(self, call: Call) -> tuple[int, dict[str, Any]]:
        for user in call.body.get("userIds", []):
            self.sent.append({"to": f"@{user}", **_message(call.body)})
        return 200, {"processQueryKey": f"q-{next(self._ids)}", "invalidStaffIdList": []}

    def _session(self, call: Call) -> tuple[int, dict[str, Any]]:
        self.sent.append({"to": f"session:{call.query.get('session')}", **call.body})
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _robot(self, call: Call) -> tuple[int, dict[str, Any]]:
        if call.query.get("access_token") != ROBOT_TOKEN:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}
        stamp, sign = call.query.get("timestamp", ""), call.query.get("sign", "")
        expected = base64.b64encode(
            hmac.new(
                ROBOT_SECRET.encode(), f"{stamp}\n{ROBOT_SECRET}".encode(), hashlib.sha256
            ).digest()
        ).decode()
        if not stamp or not hmac.compare_digest(sign, expected):
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        self.robot_posts.append(call)
        return 200, {"errcode": 0, "errmsg": "ok"}


def _message(body: dict[str, Any]) -> dict[str, Any]:
    return {"msgKey": body.get("msgKey"), **json.loads(body.get("msgParam") or "{}")}


ROUTES: dict[tuple[str, str], Callable[[FakeDingTalkApi, Call], tuple[int, dict[str, Any]]]] = {
    ("POST", "/v1.0/gateway/connections/open"): FakeDingTalkApi._open,
    ("POST", "/v1.0/oauth2/accessToken"): FakeDingTalkApi._token,
    ("POST", "/v1.0/card/instances/createAndDeliver"): FakeDingTalkApi._create,
    ("PUT", "/v1.0/card/instances"): FakeDingTalkApi._update,
    ("POST", "/v1.0/robot/groupMessages/send"): FakeDingTalkApi._group,
    ("POST", "/v1.0/robot/oToMessages/batchSend"): FakeDingTalkApi._users,
    ("POST", "/robot/sendBySession"): FakeDingTalkApi._session,
    ("POST", "/robot/send"): FakeDingTalkApi._robot,
}
PUBLIC = {"_open", "_token"}


class FakeGateway:
    """The Stream gateway's WebSocket side."""

    def __init__(self, api: FakeDingTalkApi) -> None:
        self.api = api
        self.connections = 0
        self.refused = 0
        self.current: ServerConnection | None = None
        self.received: list[str] = []
        """Every text frame the client sent, exactly as sent."""
        self.close_codes: list[int | None] = []
        self.port = 0
        self._server: Server | None = None
        self._ids = itertools.count(1)

    async def start(self) -> None:
        self._server = await serve(self._connection, "127.0.0.1", 0, close_timeout=1)
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/connect"

    async def _connection(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        if not self.api.issued_ticket((query.get("ticket") or [""])[0]):
            self.refused += 1
            await ws.close(4001, "bad ticket")
            return
        self.connections += 1
        self.current = ws
        try:
            async for raw in ws:
                self.received.append(raw if isinstance(raw, str) else raw.decode())
        except ConnectionClosed:
            pass
        finally:
            self.close_codes.append(ws.close_code)
            if self.current is ws:
                self.current = None

    async def connected(self, count: int = 1) -> None:
        await eventually(lambda: self.connections >= count, what=f"{count} connection(s)")
        await eventually(lambda: self.current is not None, what="a live connection")

    async def send(
        self, kind: str, topic: str, data: dict[str, Any] | str, *, message_id: str | None = None
    ) -> str:
        message_id = message_id or f"msg-{next(self._ids)}"
        frame = {
            "specVersion": "1.0",
            "type": kind,
            "headers": {
                "appId": "fake-app",
                "connectionId": "fake-connection",
                "contentType": "application/json",
                "messageId": message_id,
                "time": "1767225660123",
                "topic": topic,
            },
            "data": data if isinstance(data, str) else json.dumps(data, ensure_ascii=False),
        }
        await self.send_raw(json.dumps(frame, ensure_ascii=False))
        return message_id

    async def send_raw(self, text: str) -> None:
        assert self.current is not None, "no Stream client is connected"
        await self.current.send(text)

    def acks(self, message_id: str) -> list[str]:
        return [raw for raw in self.received if f'"messageId": "{message_id}"' in raw]

    async def acked(self, message_id: str, timeout: float = 10.0) -> str:
        await eventually(lambda: bool(self.acks(message_id)), timeout=timeout, what="an ack")
        return self.acks(message_id)[0]

    async def drop(self) -> None:
        """Close the current connection from the server side."""
        assert self.current is not None
        current, self.current = self.current, None
        await current.close()

    def go_silent(self) -> None:
        """Stop reading the current connection: the client's pings go unanswered."""
        assert self.current is not None
        current, self.current = self.current, None
        current.transport.pause_reading()
