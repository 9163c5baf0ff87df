"""The few DingTalk API calls Tocsin makes, on our own httpx client.

- an access token (``POST /v1.0/oauth2/accessToken``), fetched once and reused until five minutes
  before it expires (on Tocsin's clock), or until DingTalk refuses it;
- interactive cards: ``createAndDeliver`` and ``PUT /v1.0/card/instances`` (public data for
  everyone, private data for one person);
- robot messages to a group (``groupMessages/send``) or to people (``oToMessages/batchSend``);
- a message's session webhook (the cheapest way to answer it while it lasts).

Every method returns the answer or raises `RetryableDelivery` / `PermanentDelivery`
(`adapters.chat.dingtalk.errors`); nothing retries here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from adapters.chat.dingtalk.errors import (
    TokenRejected,
    oapi_error,
    openapi_error,
    transport_error,
)
from adapters.chat.dingtalk.settings import DingTalkSettings
from bot.clock import Clock
from bot.errors import PermanentDelivery

TOKEN_MARGIN = timedelta(minutes=5)
USER_ID_TYPE = 1
"""Cards name people by their userId (staff id), as users[].identities.dingtalk does."""


class OpenApi:
    """Typed, error-mapped calls with the app's credentials."""

    def __init__(
        self, settings: DingTalkSettings, clock: Clock, client: httpx.AsyncClient | None = None
    ) -> None:
        self.settings, self.clock = settings, clock
        self.client = client or httpx.AsyncClient(timeout=settings.timeout.total_seconds())
        self._token: tuple[str, datetime] | None = None
        self._token_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- access token -------------------------------------------------------------------------

    async def token(self) -> str:
        """A valid access token, fetched only when the cached one is missing or expiring."""
        async with self._token_lock:
            now = self.clock.now()
            if self._token is not None and self._token[1] > now:
                return self._token[0]
            body = {"appKey": self.settings.client_id, "appSecret": self.settings.secret}
            answer = await self._send("accessToken", "POST", "/v1.0/oauth2/accessToken", body)
            token, expires_in = answer.get("accessToken"), answer.get("expireIn")
            if not isinstance(token, str) or not token or not isinstance(expires_in, int):
                raise PermanentDelivery("dingtalk accessToken: no token in the answer")
            lifetime = max(timedelta(seconds=expires_in) - TOKEN_MARGIN, timedelta(seconds=30))
            self._token = (token, now + lifetime)
            return token

    def forget_token(self) -> None:
        self._token = None

    # -- cards --------------------------------------------------------------------------------

    async def create_and_deliver(
        self,
        out_track_id: str,
        space: str,
        params: Mapping[str, str],
        *,
        mentions: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Create an interactive card from the template and deliver it to `space`
        (``dtv1.card//IM_GROUP.<cid>`` or ``dtv1.card//IM_ROBOT.<userId>``); in a group, the
        card @-mentions `mentions` (userIds)."""
        body: dict[str, Any] = {
            "cardTemplateId": self.settings.card_template_id,
            "outTrackId": out_track_id,
            "callbackType": "STREAM",
            "cardData": {"cardParamMap": dict(params)},
            "openSpaceId": space,
            "userIdType": USER_ID_TYPE,
        }
        if "//IM_ROBOT." in space:
            body["imRobotOpenSpaceModel"] = {"supportForward": True}
            body["imRobotOpenDeliverModel"] = {
                "spaceType": "IM_ROBOT",
                "robotCode": self.settings.code,
            }
        else:
            body["imGroupOpenSpaceModel"] = {"supportForward": True}
            body["imGroupOpenDeliverModel"] = {"robotCode": self.settings.code}
            if mentions:
                body["imGroupOpenDeliverModel"]["atUserIds"] = {who: who for who in mentions}
        path = "/v1.0/card/instances/createAndDeliver"
        answer = await self._call("createAndDeliver", "POST", path, body)
        result = answer.get("result")
        deliveries = result.get("deliverResults") if isinstance(result, dict) else None
        for delivery in deliveries if isinstance(deliveries, list) else []:
            if isinstance(delivery, dict) and delivery.get("success") is False:
                raise PermanentDelivery(
                    f"dingtalk createAndDeliver: not delivered to {space}: "
                    f"{delivery.get('errorMsg') or 'no reason given'}"
                )
        return answer

    async def update_card(
        self,
        out_track_id: str,
        *,
        params: Mapping[str, str] | None = None,
        private: Mapping[str, Mapping[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Update a card's public data (everyone) and/or private data (by userId), by key."""
        body: dict[str, Any] = {
            "outTrackId": out_track_id,
            "userIdType": USER_ID_TYPE,
            "cardUpdateOptions": {
                "updateCardDataByKey": params is not None,
                "updatePrivateDataByKey": private is not None,
            },
        }
        if params is not None:
            body["cardData"] = {"cardParamMap": dict(params)}
        if private is not None:
            body["privateData"] = {
                user: {"cardParamMap": dict(values)} for user, values in private.items()
            }
        return await self._call("updateCard", "PUT", "/v1.0/card/instances", body)

    # -- robot messages -----------------------------------------------------------------------

    async def send_group(self, conversation: str, message: RobotMessage) -> dict[str, Any]:
        """A robot message in the group `conversation` (its openConversationId, ``cid…``)."""
        body = {
            "robotCode": self.settings.code,
            "openConversationId": conversation,
            "msgKey": message.key,
            "msgParam": message.param,
        }
        path = "/v1.0/robot/groupMessages/send"
        return await self._call("groupMessages/send", "POST", path, body)

    async def send_users(self, users: list[str], message: RobotMessage) -> dict[str, Any]:
        """A robot message to each of `users` (userIds), in their chat with the robot."""
        body = {
            "robotCode": self.settings.code,
            "userIds": users,
            "msgKey": message.key,
            "msgParam": message.param,
        }
        answer = await self._call(
            "oToMessages/batchSend", "POST", "/v1.0/robot/oToMessages/batchSend", body
        )
        invalid = answer.get("invalidStaffIdList") or []
        if invalid and len(invalid) == len(users):
            raise PermanentDelivery(f"dingtalk oToMessages/batchSend: unknown users {invalid}")
        return answer

    async def session_reply(self, webhook: str, payload: Mapping[str, Any]) -> None:
        """Answer through a message's session webhook (no token needed)."""
        try:
            response = await self.client.post(webhook, json=dict(payload))
        except httpx.HTTPError as exc:
            raise transport_error("sessionWebhook", exc) from exc
        error = oapi_error("sessionWebhook", response)
        if error is not None:
            raise error

    # -- plumbing -----------------------------------------------------------------------------

    async def _call(
        self, what: str, method: str, path: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        token = await self.token()
        try:
            return await self._send(what, method, path, body, token=token)
        except TokenRejected:
            self.forget_token()
            raise

    async def _send(
        self,
        what: str,
        method: str,
        path: str,
        body: Mapping[str, Any],
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        headers = {"x-acs-dingtalk-access-token": token} if token else {}
        try:
            response = await self.client.request(
                method, self.settings.api_url + path, json=dict(body), headers=headers
            )
        except httpx.HTTPError as exc:
            raise transport_error(what, exc) from exc
        error = openapi_error(what, response)
        if error is not None:
            raise error
        try:
            answer = response.json()
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}


class RobotMessage:
    """A robot API message: ``msgKey`` and its ``msgParam`` (JSON text)."""

    def __init__(self, key: str, param: Mapping[str, str]) -> None:
        self.key = key
        self.param = json.dumps(dict(param), ensure_ascii=False)

    @classmethod
    def text(cls, content: str) -> RobotMessage:
        return cls("sampleText", {"content": content})

    @classmethod
    def markdown(cls, title: str, text: str) -> RobotMessage:
        return cls("sampleMarkdown", {"title": title, "text": text})
