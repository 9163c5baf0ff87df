"""`RobotPlatform`: DingTalk's custom group robots (自定义机器人), an outbound-only platform.

Destinations are ``dingtalk-robot:<name>``, a robot named under ``robots:`` in the settings. A
custom robot cannot call back, so the platform declares ``buttons=False``: the outbox gives every
button a signed, expiring Tocsin action link (``Button.url``) and this platform sends an
``actionCard`` whose buttons open them. It cannot edit a sent message either
(``update_in_place=False``): a card that changes is sent again.

DingTalk blocks a robot for ten minutes after 20 messages in a minute; the platform's capabilities
declare ``robot_rate_per_minute``/``robot_burst`` (at most 20 in any minute) so the outbox's token
bucket for each robot keeps under it, and storms become digests. Messages are signed (加签) when
the robot has a secret, on Tocsin's clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from adapters.chat.dingtalk.errors import oapi_error, transport_error
from adapters.chat.dingtalk.render import robot_message, robot_text
from adapters.chat.dingtalk.settings import DingTalkSettings, RobotSettings
from adapters.chat.dingtalk.signing import signed_webhook
from bot.clock import Clock
from bot.errors import PermanentDelivery
from bot.model import Card, Destination
from bot.ports import ChatCapabilities, PostedRef

NAME = "dingtalk-robot"


def robot_capabilities(settings: DingTalkSettings) -> ChatCapabilities:
    return ChatCapabilities(
        buttons=False,
        update_in_place=False,
        direct_messages=False,
        rate_per_second=settings.robot_rate_per_minute / 60.0,
        burst=settings.robot_burst,
    )


class RobotPlatform:
    """Sends cards and texts through custom robots' webhooks."""

    name = NAME

    def __init__(
        self,
        robots: Mapping[str, RobotSettings],
        capabilities: ChatCapabilities,
        client: httpx.AsyncClient,
        clock: Clock,
    ) -> None:
        self.robots = dict(robots)
        self.capabilities = capabilities
        self.client, self.clock = client, clock

    async def post_card(self, dest: Destination, card: Card, *, lang: str) -> PostedRef:
        robot = self._robot(dest)
        await self._send(dest, robot, robot_message(card, keyword=robot.keyword, lang=lang))
        return PostedRef({"robot": dest.chat})

    async def update_card(
        self, dest: Destination, ref: PostedRef, card: Card, *, lang: str
    ) -> PostedRef:
        return await self.post_card(dest, card, lang=lang)  # a robot cannot edit: send again

    async def post_text(self, dest: Destination, text: str, *, reply_to: PostedRef | None) -> None:
        if not text.strip():
            return
        robot = self._robot(dest)
        await self._send(dest, robot, robot_text(text, keyword=robot.keyword))

    def _robot(self, dest: Destination) -> RobotSettings:
        if dest.platform != self.name:
            raise PermanentDelivery(f"dingtalk: {dest} is not a custom robot destination")
        robot = self.robots.get(dest.chat.strip())
        if robot is None:
            known = ", ".join(sorted(self.robots)) or "none"
            raise PermanentDelivery(
                f"dingtalk: no custom robot {dest.chat!r} under dingtalk.robots (known: {known})"
            )
        return robot

    async def _send(self, dest: Destination, robot: RobotSettings, body: dict[str, Any]) -> None:
        url = robot.webhook.get_secret_value()
        if robot.secret is not None:
            stamp = int(self.clock.now().timestamp() * 1000)
            url = signed_webhook(url, robot.secret.get_secret_value(), stamp)
        what = f"robot {dest.chat}"
        try:
            response = await self.client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise transport_error(what, exc, quiet=True) from exc
        error = oapi_error(what, response)
        if error is not None:
            raise error
