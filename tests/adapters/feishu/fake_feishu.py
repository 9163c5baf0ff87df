"""A local fake of Feishu: the Open API over HTTP and the long connection over WebSocket, on
127.0.0.1.

`FakeOpenApi` answers what Tocsin and lark-oapi call — the tenant token
(``auth/v3/tenant_access_token/internal``), ``im/v1/messages`` (create, reply, patch),
``im/v1/chats/:chat_id/members`` (list, add, remove), ``bot/v3/info`` and the long
connection's discovery (``/callback/ws/endpoint``) — like Feishu
does: codes in a JSON body, the tenant token checked on every call, messages kept (patched in
place) per chat, every call recorded. A test can script failures (`fail`) or hold a call until
released (`hold`).

`FakeLongConnection` is the WebSocket end: it speaks lark-oapi's protobuf frames
(``pbbp2.Frame``), answers pings with pongs, pushes event frames a test gives it and keeps the
client's answer frames.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from lark_oapi.ws.pb.pbbp2_pb2 import Frame
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.fake_http import FakeHttpServer

BOT_OPEN_ID = "ou_tocsinbot0000000000000000000000"
CONTROL, DATA = 0, 1


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
    query: dict[str, str]
    body: dict[str, Any]
    token: str


@dataclass
class Failure:
    status: int = 200
    code: int = 230020
    msg: str = "frequency limit"
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None
    """Answer this text instead of JSON (an outage page from a proxy)."""


@dataclass
class Message:
    message_id: str
    chat_id: str
    msg_type: str
    content: dict[str, Any]
    receive_id_type: str = "chat_id"
    receive_id: str = ""
    parent_id: str = ""
    in_thread: bool = False
    updates: int = 0

    @property
    def text(self) -> str:
        """A post's text, as people read it."""
        body = self.content.get("zh_cn") or next(iter(self.content.values()), {})
        return "\n".join("".join(r.get("text", "") for r in line) for line in body["content"])


@dataclass
class FakeOpenApi(FakeHttpServer):
    app_id: str
    app_secret: str = "fake-app-secret"
    chats: set[str] = field(default_factory=lambda: {"oc_alerts", "oc_other"})
    people: set[str] = field(default_factory=set)
    """Ids (open_id, union_id or user_id) the app may message directly."""
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    """Each chat's members by id (open_id, union_id or user_id, as added)."""
    ws_url: str = ""
    ping_interval: int = 30
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, Message] = field(default_factory=dict)
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- lifecycle ------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{path:.*}", self._handle)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tenant_token(self) -> str:
        return f"t-{self.app_id}"

    # -- scripting ------------------------------------------------------------------------------

    def fail(self, key: str, times: int = 1, **failure: Any) -> None:
        """The next `times` calls to `key` (e.g. ``POST /open-apis/im/v1/messages``) fail."""
        self.failures[key].extend(Failure(**failure) for _ in range(times))

    def calls_to(self, key: str) -> list[Call]:
        return [c for c in self.calls if _key(c.method, c.path) == key]

    def cards_in(self, chat: str) -> list[Message]:
        return [
            m for m in self.messages.values() if m.chat_id == chat and m.msg_type == "interactive"
        ]

    def posts_in(self, chat: str) -> list[Message]:
        return [m for m in self.messages.values() if m.chat_id == chat and m.msg_type == "post"]

    def incoming(self, envelope: dict[str, Any]) -> None:
        """A message a person wrote (an ``im.message.receive_v1`` event), to be replied to."""
        message = envelope["event"]["message"]
        if message["message_id"] not in self.messages:
            self.messages[message["message_id"]] = Message(
                message["message_id"], message["chat_id"], message["message_type"], {}
            )

    def direct(self, person: str) -> list[Message]:
        return [m for m in self.messages.values() if m.receive_id == person]

    # -- HTTP -----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        body: dict[str, Any] = {}
        if request.can_read_body:
            body = await request.json()
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        key = _key(request.method, path)
        self.calls.append(Call(request.method, path, dict(request.query), body, token))
        if key in self.held:
            await self.held[key].wait()
        if self.failures[key]:
            failure = self.failures[key].pop(0)
            if failure.raw is not None:
                return web.Response(
                    status=failure.status, text=failure.raw, headers=failure.headers
                )
            answer = {"code": failure.code, "msg": failure.msg}
            return web.json_response(answer, status=failure.status, headers=failure.headers)
        if path == "/open-apis/auth/v3/tenant_access_token/internal":
            return self._token(body)
        if path == "/callback/ws/endpoint":
            return self._endpoint(body)
        if token != self.tenant_token:
            return _code(99991663, "Invalid access token for authorization.", status=400)
        if path == "/open-apis/bot/v3/info":
            bot = {"activate_status": 2, "app_name": "Tocsin", "open_id": BOT_OPEN_ID}
            return web.json_response({"code": 0, "msg": "ok", "bot": bot})
        if path.startswith("/open-apis/im/v1/chats/") and path.endswith("/members"):
            chat = path.removeprefix("/open-apis/im/v1/chats/").removesuffix("/members")
            return self._members(request.method, chat, dict(request.query), body)
        parts = path.removeprefix("/open-apis/im/v1/messages").strip("/").split("/")
        if path.startswith("/open-apis/im/v1/messages"):
            if request.method == "POST" and parts == [""]:
                return self._create(dict(request.query), body)
            if request.method == "POST" and len(parts) == 2 and parts[1] == "reply":
                return self._reply(parts[0], body)
            if request.method == "PATCH" and len(parts) == 1:
                return self._patch(parts[0], body)
        return _code(404, "not found", status=404)

    def _members(
        self, method: str, chat: str, query: dict[str, str], body: dict[str, Any]
    ) -> web.Response:
        """Chat members as Feishu answers: ids it cannot add come back in
        ``not_existed_id_list``; removing someone who is not there is no error."""
        if chat not in self.chats:
            return _code(232011, "Operator can NOT be out of the chat.", status=400)
        kind = query.get("member_id_type", "open_id")
        prefix = {"open_id": "ou_", "union_id": "on_"}.get(kind, "")
        if method == "GET":
            items = [
                {"member_id_type": kind, "member_id": m, "name": m, "tenant_key": "t"}
                for m in sorted(self.members[chat])
                if (m.startswith(prefix) if prefix else not m.startswith(("ou_", "on_")))
            ]
            data = {"items": items, "page_token": "", "has_more": False}
            return web.json_response({"code": 0, "msg": "success", "data": data})
        ids = [str(i) for i in body.get("id_list") or []]
        if method == "POST":
            unknown = [i for i in ids if i not in self.people]
            self.members[chat] |= {i for i in ids if i in self.people}
            data = {"invalid_id_list": [], "not_existed_id_list": unknown}
            data["pending_approval_id_list"] = []
            return web.json_response({"code": 0, "msg": "success", "data": data})
        if method == "DELETE":
            self.members[chat] -= set(ids)
            return web.json_response({"code": 0, "msg": "success", "data": {"invalid_id_list": []}})
        return _code(404, "not found", status=404)

    def _token(self, body: dict[str, Any]) -> web.Response:
        if body.get("app_id") != self.app_id or body.get("app_secret") != self.app_secret:
            return _code(10014, "app secret invalid")
        answer = {"code": 0, "msg": "ok", "tenant_access_token": self.tenant_token, "expire": 7200}
        return web.json_response(answer)

    def _endpoint(self, body: dict[str, Any]) -> web.Response:
        if body.get("AppID") != self.app_id or body.get("AppSecret") != self.app_secret:
            return web.json_response({"code": 1000040343, "msg": "app secret invalid"})
        config = {
            "ReconnectCount": -1,
            "ReconnectInterval": 1,
            "ReconnectNonce": 0,
            "PingInterval": self.ping_interval,
        }
        url = f"{self.ws_url}?device_id=device-1&service_id=7"
        return web.json_response(
            {"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": config}}
        )

    def _create(self, query: dict[str, str], body: dict[str, Any]) -> web.Response:
        kind, receiver = query.get("receive_id_type", ""), str(body.get("receive_id", ""))
        if kind == "chat_id":
            if receiver not in self.chats:
                return _code(230002, "Bot/User can NOT be out of the chat.", status=400)
            chat = receiver
        elif kind in ("open_id", "union_id", "user_id"):
            if receiver not in self.people:
                return _code(230013, "Bot has NO availability to this user.", status=400)
            chat = f"oc_p2p_{receiver}"
        else:
            return _code(99992402, "field validation failed", status=400)
        message = self._store(chat, body, receive_id_type=kind, receive_id=receiver)
        return self._sent(message)

    def _reply(self, parent: str, body: dict[str, Any]) -> web.Response:
        if parent not in self.messages:
            return _code(230011, "The message was withdrawn.", status=400)
        chat = self.messages[parent].chat_id
        message = self._store(
            chat, body, parent_id=parent, in_thread=bool(body.get("reply_in_thread"))
        )
        return self._sent(message)

    def _patch(self, message_id: str, body: dict[str, Any]) -> web.Response:
        message = self.messages.get(message_id)
        if message is None:
            return _code(230001, "invalid message_id", status=400)
        card = json.loads(body["content"])
        if message.msg_type != "interactive" or not card.get("config", {}).get("update_multi"):
            return _code(230099, "the card is not shared (update_multi)", status=400)
        message.content = card
        message.updates += 1
        return web.json_response({"code": 0, "msg": "success", "data": {}})

    def _store(self, chat: str, body: dict[str, Any], **extra: Any) -> Message:
        msg_type = str(body.get("msg_type", ""))
        content = json.loads(body["content"])
        if msg_type == "interactive":
            assert content.get("schema") == "2.0", "Tocsin sends card JSON 2.0"
        message_id = f"om_{next(self._ids):08d}"
        self.messages[message_id] = Message(message_id, chat, msg_type, content, **extra)
        return self.messages[message_id]

    @staticmethod
    def _sent(message: Message) -> web.Response:
        data = {
            "message_id": message.message_id,
            "chat_id": message.chat_id,
            "msg_type": message.msg_type,
            "root_id": message.parent_id,
            "parent_id": message.parent_id,
            "body": {"content": json.dumps(message.content)},
        }
        return web.json_response({"code": 0, "msg": "success", "data": data})


def _key(method: str, path: str) -> str:
    if path.startswith("/open-apis/im/v1/chats/") and path.endswith("/members"):
        path = "/open-apis/im/v1/chats/:chat_id/members"
    if path.startswith("/open-apis/im/v1/messages/") and method == "PATCH":
        path = "/open-apis/im/v1/messages/:id"
    elif path.startswith("/open-apis/im/v1/messages/") and path.endswith("/reply"):
        path = "/open-apis/im/v1/messages/:id/reply"
    return f"{method} {path}"


def _code(code: int, msg: str, *, status: int = 200) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


# -- the long connection ----------------------------------------------------------------------


@dataclass
class Answer:
    """What came back for a pushed frame: the status code and the handler's result (decoded)."""

    code: int
    data: dict[str, Any] | None


class FakeLongConnection:
    """The WebSocket end of Feishu's long connection, in lark-oapi's frame format."""

    def __init__(self) -> None:
        self.connections = 0
        self.pings = 0
        self.current: ServerConnection | None = None
        self.close_codes: list[int | None] = []
        self.answers: dict[str, Answer] = {}
        self.port = 0
        self._server: Server | None = None
        self._seq = itertools.count(1)

    async def start(self) -> None:
        self._server = await serve(self._connection, "127.0.0.1", 0)
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/v2"

    async def _connection(self, ws: ServerConnection) -> None:
        self.connections += 1
        self.current = ws
        try:
            async for raw in ws:
                frame = Frame()
                frame.ParseFromString(raw)
                headers = {h.key: h.value for h in frame.headers}
                if frame.method == CONTROL and headers.get("type") == "ping":
                    self.pings += 1
                    await ws.send(_frame(CONTROL, {"type": "pong"}, b"", seq=frame.SeqID))
                elif frame.method == DATA:
                    payload = json.loads(frame.payload)
                    data = payload.get("data")
                    decoded = json.loads(base64.b64decode(data)) if data else None
                    self.answers[headers["message_id"]] = Answer(payload["code"], decoded)
        except ConnectionClosed:
            pass
        finally:
            self.close_codes.append(ws.close_code)
            if self.current is ws:
                self.current = None

    async def connected(self, count: int = 1) -> None:
        await eventually(lambda: self.connections >= count, what=f"{count} connection(s)")
        await eventually(lambda: self.current is not None, what="a live connection")

    async def push(
        self, envelope: dict[str, Any], *, message_id: str | None = None, kind: str = "event"
    ) -> str:
        """Send one event frame, as Feishu pushes an event or a callback; its message id."""
        n = next(self._seq)
        message_id = message_id or f"msg-{n}"
        headers = {
            "type": kind,
            "message_id": message_id,
            "trace_id": f"trace-{n}",
            "sum": "1",
            "seq": "0",
        }
        assert self.current is not None, "no long-connection client is connected"
        await self.current.send(_frame(DATA, headers, json.dumps(envelope).encode(), seq=n))
        return message_id

    async def answer(self, message_id: str, timeout: float = 10.0) -> Answer:
        await eventually(
            lambda: message_id in self.answers, timeout=timeout, what="an answer frame"
        )
        return self.answers[message_id]

    async def drop(self) -> None:
        """Close the current connection from the server side, as Feishu does now and then."""
        assert self.current is not None
        current, self.current = self.current, None
        await current.close()


def _frame(method: int, headers: dict[str, str], payload: bytes, *, seq: int) -> bytes:
    frame = Frame()
    frame.SeqID, frame.LogID, frame.service, frame.method = seq, seq, 7, method
    for key, value in headers.items():
        header = frame.headers.add()
        header.key, header.value = key, value
    frame.payload = payload
    return frame.SerializeToString()
