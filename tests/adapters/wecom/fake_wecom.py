"""A local fake of WeCom's server API on 127.0.0.1 (aiohttp), as strict as the docs.

Answers what Tocsin calls: ``cgi-bin/gettoken``, ``cgi-bin/message/send``,
``cgi-bin/message/update_template_card``, ``cgi-bin/webhook/send`` (group robots) and
``cgi-bin/aibot/response`` (an AI bot's response_url). It keeps the cards it was sent (replaced
by updates), spends each ``response_code`` once, records every call, and lets a test script
failures (`fail`), expire tokens (`expire_tokens`), hold a method (`hold`) and hand out the
fresh code a button press brings (`press_code`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fake_http import FakeHttpServer

CORP_ID = "ww_corp_tocsin"
SECRET = "app-secret-0123456789"
AGENT_ID = 1000002
BAD_CODE = 40125
"""What this fake answers for a spent or unknown response_code (the real errcode is not
documented; the adapter treats any refusal alike)."""


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
    query: dict[str, str]
    body: dict[str, Any]


@dataclass
class Failure:
    status: int = 200
    errcode: int = 0
    retry_after: float | None = None


@dataclass
class Sent:
    """A message the app sent one person; cards are replaced in place by updates."""

    touser: str
    msgtype: str
    body: dict[str, Any]
    msgid: str
    task_id: str = ""
    updates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def card(self) -> dict[str, Any]:
        shown: dict[str, Any] = self.body.get("template_card", {})
        for update in self.updates:
            if "template_card" in update:
                shown = update["template_card"]
            elif "button" in update:
                shown = {**shown, "replace_text": update["button"]["replace_name"]}
        return shown


@dataclass
class FakeWeCom(FakeHttpServer):
    users: set[str] = field(default_factory=lambda: {"alice", "bob", "carol"})
    robot_keys: dict[str, str] = field(default_factory=lambda: {"key-ops": "ops"})
    calls: list[Call] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    robot_posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    responses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    tokens: set[str] = field(default_factory=set)
    codes: dict[str, str] = field(default_factory=dict)
    """Unspent response codes → the task id they may update."""
    response_urls: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- lifecycle ------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        app.router.add_post("/cgi-bin/message/send", self._send)
        app.router.add_post("/cgi-bin/message/update_template_card", self._update)
        app.router.add_post("/cgi-bin/webhook/send", self._webhook)
        app.router.add_post("/cgi-bin/aibot/response", self._respond)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    # -- scripting ------------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        errcode: int = 0,
        status: int = 200,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        self.failures[method].extend(Failure(status, errcode, retry_after) for _ in range(times))

    def expire_tokens(self) -> None:
        """Every token issued so far is now expired (errcode 42001)."""
        self.tokens.clear()

    def press_code(self, task_id: str) -> str:
        """The fresh response_code WeCom puts in the callback of a press on `task_id`."""
        code = f"code-press-{next(self._ids)}"
        self.codes[code] = task_id
        return code

    def response_url(self) -> str:
        code = f"resp-{next(self._ids)}"
        self.response_urls.add(code)
        return f"{self.base_url}cgi-bin/aibot/response?response_code={code}"

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def to(self, user: str) -> list[Sent]:
        return [s for s in self.sent if s.touser == user]

    def cards_to(self, user: str) -> list[Sent]:
        return [s for s in self.to(user) if s.msgtype == "template_card"]

    def texts_to(self, user: str) -> list[str]:
        return [s.body["text"]["content"] for s in self.to(user) if s.msgtype == "text"]

    def robot(self, name: str) -> list[dict[str, Any]]:
        return [message for robot, message in self.robot_posts if robot == name]

    # -- HTTP -----------------------------------------------------------------------------------

    async def _record(self, request: web.Request, method: str) -> tuple[Call, web.Response | None]:
        body = await request.json() if request.can_read_body else {}
        call = Call(method, dict(request.query), body if isinstance(body, dict) else {})
        self.calls.append(call)
        if method in self.held:
            await self.held[method].wait()
        if self.failures[method]:
            failure = self.failures[method].pop(0)
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(int(failure.retry_after))
            if failure.status != 200:
                return call, web.Response(status=failure.status, text="trouble", headers=headers)
            return call, _error(failure.errcode, "scripted failure")
        return call, None

    async def _gettoken(self, request: web.Request) -> web.Response:
        call, failed = await self._record(request, "gettoken")
        if failed is not None:
            return failed
        if call.query.get("corpid") != CORP_ID:
            return _error(40013, "invalid corpid")
        if call.query.get("corpsecret") != SECRET:
            return _error(40001, "invalid credential")
        token = f"token-{next(self._ids)}"
        self.tokens.add(token)
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
        )

    def _authorized(self, call: Call) -> web.Response | None:
        token = call.query.get("access_token", "")
        if not token:
            return _error(41001, "access_token missing")
        if token not in self.tokens:
            return _error(42001, "access_token expired")
        if call.body.get("agentid") != AGENT_ID:
            return _error(40056, "invalid agentid")
        return None

    async def _send(self, request: web.Request) -> web.Response:
        call, failed = await self._record(request, "message/send")
        if failed is not None:
            return failed
        refused = self._authorized(call)
        if refused is not None:
            return refused
        body = call.body
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        if not users or not set(users) <= self.users:
            return _error(81013, "user & party & tag all invalid")
        msgtype = str(body.get("msgtype", ""))
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "invaliduser": ""}
        msgid = f"msg-{next(self._ids)}"
        task_id = ""
        if msgtype == "template_card":
            problem = _check_card(body.get("template_card"), [s.task_id for s in self.sent])
            if problem:
                return _error(40058, problem)
            task_id = body["template_card"]["task_id"]
            code = f"code-send-{next(self._ids)}"
            self.codes[code] = task_id
            answer["response_code"] = code
        elif msgtype == "text":
            content = body.get("text", {}).get("content", "")
            if not content or len(content.encode()) > 2048:
                return _error(44004, "text content empty or too long")
        else:
            return _error(40008, "invalid message type")
        for user in users:
            self.sent.append(Sent(user, msgtype, body, msgid, task_id))
        answer["msgid"] = msgid
        return web.json_response(answer)

    async def _update(self, request: web.Request) -> web.Response:
        call, failed = await self._record(request, "message/update_template_card")
        if failed is not None:
            return failed
        refused = self._authorized(call)
        if refused is not None:
            return refused
        code = str(call.body.get("response_code", ""))
        task_id = self.codes.pop(code, None)
        if task_id is None:
            return _error(BAD_CODE, "invalid response_code")
        targets = [s for s in self.sent if s.task_id == task_id]
        users = call.body.get("userids")
        if users:
            targets = [s for s in targets if s.touser in users]
        for sent in targets:
            sent.updates.append(call.body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "invaliduser": []})

    async def _webhook(self, request: web.Request) -> web.Response:
        call, failed = await self._record(request, "webhook/send")
        if failed is not None:
            return failed
        name = self.robot_keys.get(call.query.get("key", ""))
        if name is None:
            return _error(93000, "invalid webhook url")
        body = call.body
        msgtype = body.get("msgtype")
        if msgtype == "markdown" and len(body["markdown"]["content"].encode()) > 4096:
            return _error(40058, "markdown.content exceed max length 4096")
        if msgtype == "template_card":
            card = body["template_card"]
            if card.get("card_type") not in ("text_notice", "news_notice"):
                return _error(40058, "robots take text_notice and news_notice only")
            if len(card.get("jump_list", [])) > 3 or "card_action" not in card:
                return _error(40058, "jump_list over 3, or no card_action")
        self.robot_posts.append((name, body))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _respond(self, request: web.Request) -> web.Response:
        call, failed = await self._record(request, "aibot/response")
        if failed is not None:
            return failed
        code = call.query.get("response_code", "")
        if code not in self.response_urls:
            return _error(BAD_CODE, "invalid response_code")
        self.response_urls.discard(code)
        self.responses.append((code, call.body))
        return web.json_response({"errcode": 0, "errmsg": "ok"})


def _check_card(card: Any, used_task_ids: list[str]) -> str:
    """What WeCom would refuse in a ``button_interaction`` card, or ``""``."""
    if not isinstance(card, dict) or card.get("card_type") != "button_interaction":
        return "template_card.card_type must be button_interaction here"
    task_id = str(card.get("task_id", ""))
    if not task_id or len(task_id.encode()) > 128 or task_id in used_task_ids:
        return "task_id missing, too long or used before"
    buttons = card.get("button_list", [])
    keys = [b.get("key") for b in buttons if b.get("type", 0) == 0]
    if not buttons or len(buttons) > 6 or len(keys) != len(set(keys)):
        return "button_list must have 1 to 6 buttons with unique keys"
    if any(len(str(k).encode()) > 1024 for k in keys):
        return "button key over 1024 bytes"
    if len(card.get("horizontal_content_list", [])) > 6:
        return "horizontal_content_list over 6"
    return ""


def _error(errcode: int, errmsg: str) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg})


def as_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)
