"""WeCom as `ChatPlatform`s (the outbound side): the self-built app and the group robots.

`WeComAppPlatform` (``wecom``) sends interactive ``button_interaction`` cards and texts to one
person each, through the app: ``wecom:@<tocsin user>`` (through ``users[].identities.wecom``)
or ``wecom:<userid>`` (a WeCom userid). A card's reference is ``{"task_id", "userid", "msgid",
"response_code", "status"}``; updates go through ``update_template_card`` with the newest unused
response code (`CardMemory`), else the stored one; with none left the card is posted anew when
its status changed (a new message for a changed alert count would only be noise).

`WeComRobotPlatform` (``wecom-robot``) posts through group robots by name
(``wecom-robot:ops``). Robots cannot call back or edit, so it declares ``buttons=False`` (the
core turns buttons into signed action links) and ``update_in_place=False`` (a change is posted
as a new message).

Rates: the app may send a person 30 messages a minute and 1000 an hour, a robot 20 a minute,
and WeCom drops what is over silently, so the declared rate keeps every window within the
limit even after a full burst.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

import structlog

from adapters.chat.wecom.api import AppApi, WeComHttp, robot_send, robot_url
from adapters.chat.wecom.memory import CardMemory
from adapters.chat.wecom.render import template_card
from adapters.chat.wecom.robot_render import robot_message, text_message
from adapters.chat.wecom.settings import RobotSettings
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.model import Card, Destination
from bot.ports import ChatCapabilities, PostedRef

log = structlog.get_logger(__name__)

NAME = "wecom"
ROBOT_NAME = "wecom-robot"
DM_PREFIX = "@"
PER_MEMBER_MINUTE, PER_MEMBER_HOUR = 30, 1000
PER_ROBOT_MINUTE = 20
_TASK_CHARS = re.compile(r"[^0-9A-Za-z_\-@]")


def app_capabilities(burst: int) -> ChatCapabilities:
    """At most 30 per minute and 1000 per hour to one person, whatever the burst."""
    rate = min((PER_MEMBER_MINUTE - burst) / 60, (PER_MEMBER_HOUR - burst) / 3600)
    return ChatCapabilities(
        buttons=True, update_in_place=True, direct_messages=True, rate_per_second=rate, burst=burst
    )


def robot_capabilities(burst: int) -> ChatCapabilities:
    """At most 20 per minute to one robot, whatever the burst."""
    return ChatCapabilities(
        buttons=False,
        update_in_place=False,
        direct_messages=False,
        rate_per_second=(PER_ROBOT_MINUTE - burst) / 60,
        burst=burst,
    )


def new_task_id(card_ref: str) -> str:
    """A task id unique to one sent card: ``[0-9A-Za-z_-@]``, at most 128 bytes."""
    return f"tocsin-{_TASK_CHARS.sub('-', card_ref)[:80]}-{secrets.token_hex(8)}"


class WeComAppPlatform:
    """Cards and texts to people through the self-built app."""

    name = NAME

    def __init__(
        self,
        api: AppApi,
        memory: CardMemory,
        capabilities: ChatCapabilities,
        *,
        identities: Mapping[str, str] | None = None,
    ) -> None:
        self.api, self.memory, self.capabilities = api, memory, capabilities
        self.identities: dict[str, str] = dict(identities or {})
        """Tocsin user id → WeCom userid, for ``wecom:@<tocsin user>`` destinations."""

    async def post_card(self, dest: Destination, card: Card, *, lang: str) -> PostedRef:
        return await self.send_card(self.userid(dest), card, lang)

    async def update_card(
        self, dest: Destination, ref: PostedRef, card: Card, *, lang: str
    ) -> PostedRef:
        task_id, userid = _str(ref.data.get("task_id")), _str(ref.data.get("userid"))
        if not (task_id and userid):
            raise PermanentDelivery(f"wecom: card reference without task_id and userid: {ref!r}")
        fresh = self.memory.take_code(task_id)
        stored = _str(ref.data.get("response_code"))
        code = fresh or stored
        if not code:
            if _str(ref.data.get("status")) == card.status:
                log.info("wecom: no response code left; same status, card left as is", task=task_id)
                return ref  # a new message for a changed count would only be noise
            log.info("wecom: no response code left for this card, posting it anew", task=task_id)
            return await self.send_card(userid, card, lang)
        update = {
            "userids": [userid],
            "response_code": code,
            "template_card": template_card(card, lang, task_id, for_update=True),
        }
        try:
            await self.api.update_template_card(update)
        except RetryableDelivery:
            if fresh:
                self.memory.give_back(task_id, fresh)
            raise
        except PermanentDelivery as exc:
            self.memory.spent(code)
            log.info("wecom: card update refused, posting it anew", task=task_id, error=str(exc))
            return await self.send_card(userid, card, lang)
        self.memory.spent(code)
        self.memory.remember(task_id, card, lang, userid)
        return PostedRef(
            {**ref.data, "status": card.status, "response_code": "" if not fresh else stored}
        )

    async def post_text(self, dest: Destination, text: str, *, reply_to: PostedRef | None) -> None:
        if text.strip():
            await self.send_text(self.userid(dest), text)

    # -- sending ------------------------------------------------------------------------------

    async def send_card(self, userid: str, card: Card, lang: str) -> PostedRef:
        task_id = new_task_id(card.ref)
        answer = await self.api.send(
            {
                "touser": userid,
                "msgtype": "template_card",
                "template_card": template_card(card, lang, task_id),
            }
        )
        self.memory.remember(task_id, card, lang, userid)
        return PostedRef(
            {
                "task_id": task_id,
                "userid": userid,
                "msgid": _str(answer.get("msgid")),
                "response_code": _str(answer.get("response_code")),
                "status": card.status,
            }
        )

    async def send_text(self, userid: str, text: str) -> None:
        await self.api.send({"touser": userid, **text_message(text)})

    async def update_for(self, userid: str, code: str, template: dict[str, object]) -> None:
        """Show `template` to `userid` in place of the card `code` came with (spends it)."""
        try:
            await self.api.update_template_card(
                {"userids": [userid], "response_code": code, "template_card": template}
            )
        finally:
            self.memory.spent(code)

    # -- destinations -------------------------------------------------------------------------

    def userid(self, dest: Destination) -> str:
        """The WeCom userid `dest` names: ``@<tocsin user>`` or a userid."""
        if dest.platform != self.name:
            raise PermanentDelivery(f"wecom: {dest} is not a WeCom app destination")
        chat = dest.chat.strip()
        if not chat.startswith(DM_PREFIX):
            return chat
        who = chat[len(DM_PREFIX) :]
        if who in self.identities:
            return self.identities[who]
        raise PermanentDelivery(
            f"wecom: no WeCom identity for {who!r}: give the Tocsin user "
            "identities: {wecom: <userid>} or address the userid itself (wecom:<userid>)"
        )


class WeComRobotPlatform:
    """Broadcasts into groups through their robots' webhooks (links instead of buttons)."""

    name = ROBOT_NAME

    def __init__(
        self,
        http: WeComHttp,
        robots: Mapping[str, RobotSettings],
        api_url: str,
        capabilities: ChatCapabilities,
    ) -> None:
        self.http, self.robots, self.api_url = http, dict(robots), api_url
        self.capabilities = capabilities

    async def post_card(self, dest: Destination, card: Card, *, lang: str) -> PostedRef:
        name, robot = self._robot(dest)
        message = robot_message(card, lang, robot.format, robot.card_url)
        await robot_send(self.http, name, self._url(robot), message)
        return PostedRef({"robot": name})

    async def update_card(
        self, dest: Destination, ref: PostedRef, card: Card, *, lang: str
    ) -> PostedRef:
        """Robots cannot edit: the new state is posted as a new message."""
        return await self.post_card(dest, card, lang=lang)

    async def post_text(self, dest: Destination, text: str, *, reply_to: PostedRef | None) -> None:
        if text.strip():
            name, robot = self._robot(dest)
            await robot_send(self.http, name, self._url(robot), text_message(text))

    def _robot(self, dest: Destination) -> tuple[str, RobotSettings]:
        if dest.platform != self.name:
            raise PermanentDelivery(f"wecom: {dest} is not a WeCom robot destination")
        robot = self.robots.get(dest.chat)
        if robot is None:
            known = ", ".join(sorted(self.robots)) or "none"
            raise PermanentDelivery(f"wecom: no robot named {dest.chat!r} (configured: {known})")
        return dest.chat, robot

    def _url(self, robot: RobotSettings) -> str:
        return robot_url(robot.webhook.get_secret_value(), self.api_url)


def _str(value: object) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, int) else ""
