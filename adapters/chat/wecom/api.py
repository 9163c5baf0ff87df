"""A small typed client for the WeCom APIs Tocsin calls, on httpx with a configurable base URL.

- `WeComHttp` — one JSON call: maps HTTP failures, timeouts and ``errcode``s to delivery errors
  (`adapters.chat.wecom.errors`); secrets in URLs never reach an error message;
- `AccessToken` — ``gettoken``: fetched on first use, cached until shortly before it expires,
  fetched again when WeCom says it expired (40014, 42001);
- `AppApi` — the self-built app's ``message/send`` and ``message/update_template_card``;
- `robot_send` and `respond` — a group robot's webhook, and an AI bot's ``response_url``.

Nothing here retries a delivery: a refused token is refreshed and the call made once more,
which is not a retry of a delivery WeCom accepted.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters.chat.wecom.errors import TokenExpired, api_error, http_error, network_error
from bot.clock import Clock
from bot.errors import PermanentDelivery

Json = dict[str, Any]
TOKEN_MARGIN = timedelta(minutes=5)
"""A token is replaced this long before WeCom's ``expires_in`` runs out."""


class WeComHttp:
    """JSON requests with WeCom's error mapping, on one `httpx.AsyncClient`."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        body: Json | None = None,
    ) -> Json:
        """POST `body` (GET without one) to `url`; the answer, or a `DeliveryError`."""
        try:
            if body is None:
                response = await self.client.get(url, params=params)
            else:
                response = await self.client.post(url, params=params, json=body)
        except httpx.HTTPError as exc:
            raise network_error(method, exc) from exc
        if response.status_code >= 300:
            raise http_error(method, response)
        try:
            data = response.json()
        except ValueError as exc:
            raise PermanentDelivery(f"wecom {method}: the answer is not JSON") from exc
        if not isinstance(data, dict):
            raise PermanentDelivery(f"wecom {method}: the answer is not a JSON object")
        errcode = data.get("errcode", 0)
        if errcode not in (0, None, "0"):
            code = int(errcode) if str(errcode).lstrip("-").isdigit() else -999
            raise api_error(method, code, str(data.get("errmsg", "")))
        return data

    async def aclose(self) -> None:
        await self.client.aclose()


class AccessToken:
    """The app's access token (``gettoken``), cached on the injected clock."""

    def __init__(self, http: WeComHttp, clock: Clock, corp_id: str, secret: str) -> None:
        self.http, self.clock = http, clock
        self._params = {"corpid": corp_id, "corpsecret": secret}
        self._token = ""
        self._until: datetime | None = None
        self._lock = asyncio.Lock()
        self.fetched = 0
        """How many tokens were fetched (for tests and metrics)."""

    async def get(self) -> str:
        async with self._lock:
            now = self.clock.now()
            if self._token and self._until is not None and now < self._until:
                return self._token
            data = await self.http.call("gettoken", "cgi-bin/gettoken", params=self._params)
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise PermanentDelivery("wecom gettoken: the answer has no access_token")
            lifetime = timedelta(seconds=_seconds(data.get("expires_in"), 7200))
            self._token, self._until = token, now + max(lifetime - TOKEN_MARGIN, lifetime / 2)
            self.fetched += 1
            return token

    def invalidate(self, token: str) -> None:
        """WeCom refused `token`: the next `get` fetches a new one (unless already done)."""
        if token == self._token:
            self._token, self._until = "", None


class AppApi:
    """The self-built app's message APIs."""

    def __init__(self, http: WeComHttp, token: AccessToken, agent_id: int) -> None:
        self.http, self.token, self.agent_id = http, token, agent_id

    async def send(self, message: Json) -> Json:
        """``message/send`` (`message` without ``agentid``); the answer has ``msgid`` and, for
        interactive cards, ``response_code``. A recipient WeCom refused is a permanent failure."""
        data = await self._authed("message/send", "cgi-bin/message/send", message)
        refused = [str(data.get(k) or "") for k in ("invaliduser", "unlicenseduser")]
        if any(refused):
            raise PermanentDelivery(
                f"wecom message/send: recipient not reachable by the app ({', '.join(refused)})"
            )
        return data

    async def update_template_card(self, update: Json) -> Json:
        """``message/update_template_card``; consumes the update's ``response_code``."""
        return await self._authed(
            "message/update_template_card", "cgi-bin/message/update_template_card", update
        )

    async def _authed(self, method: str, path: str, body: Json) -> Json:
        payload = {**body, "agentid": self.agent_id}
        token = await self.token.get()
        try:
            return await self.http.call(method, path, params={"access_token": token}, body=payload)
        except TokenExpired:
            self.token.invalidate(token)
        token = await self.token.get()
        return await self.http.call(method, path, params={"access_token": token}, body=payload)


def robot_url(webhook: str, api_url: str) -> str:
    """A robot's webhook address from its configured webhook URL or bare key."""
    if webhook.startswith(("https://", "http://")):
        return webhook
    return f"{api_url}cgi-bin/webhook/send?key={webhook}"


async def robot_send(http: WeComHttp, name: str, url: str, message: Json) -> Json:
    """Post `message` through the group robot `name` (its URL holds the secret key)."""
    return await http.call(f"webhook/send ({name})", url, body=message)


async def respond(http: WeComHttp, response_url: str, message: Json) -> Json:
    """Answer an AI bot's callback through its single-use ``response_url``."""
    if urlsplit(response_url).scheme not in ("https", "http"):
        raise PermanentDelivery("wecom aibot/response: the response_url is not an http(s) URL")
    return await http.call("aibot/response", response_url, body=message)


def _seconds(value: object, default: int) -> int:
    return value if isinstance(value, int) and value > 0 else default
