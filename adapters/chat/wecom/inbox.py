"""What the adapter stores with each command and press it accepts (its *route*, see `bot.inbox`),
so that any replica can answer it after taking it over.

Both inbound surfaces share the platform name ``wecom``; a route says which one took the request
(``surface``) and holds what answering needs there:

- self-built app (``app``): the person (replies are private messages) and, for a press, the
  card's ``task_id`` and the fresh single-use ``response_code`` the press brought. That code is
  otherwise kept only in the accepting process's `CardMemory`, so the route is how a takeover on
  another replica still updates the presser's card with it;
- AI bot (``aibot``): where the callback came from (`AIBotWhere`: the person, the group, the
  ``response_url``) and the pressed card's ``task_id``. The passive reply went out with the
  acknowledgement, so a taken-over request is answered like a late one: through
  ``response_url`` (or privately through the app).

A request is stored before WeCom is answered; when that fails, `NotStored` makes the callback's
answer a 5xx (see `NotStored`).
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.chat.wecom.translate import AIBotWhere, Press
from bot.errors import TocsinError
from bot.inbound import InboundHandler
from bot.inbox import Request
from bot.inbox.codec import pack

APP, AIBOT = "app", "aibot"


@dataclass(frozen=True, slots=True)
class Route:
    surface: str
    """``app`` or ``aibot``: which callback URL took the request."""
    user: str
    """Who sent the command or pressed the button (WeCom userid)."""
    task_id: str = ""
    response_code: str = ""
    """App press: the fresh single-use code to update the presser's card with."""
    chatid: str = ""
    group: bool = False
    response_url: str = ""

    @classmethod
    def app(cls, user: str, press: Press | None = None) -> Route:
        if press is None:
            return cls(APP, user)
        return cls(APP, user, task_id=press.task_id, response_code=press.response_code)

    @classmethod
    def aibot(cls, where: AIBotWhere, task_id: str = "") -> Route:
        return cls(AIBOT, where.userid, task_id, "", where.chatid, where.group, where.response_url)

    def where(self) -> AIBotWhere:
        return AIBotWhere(self.user, self.chatid, self.group, self.response_url)


class NotStored(TocsinError):
    """A command or press could not be stored before WeCom was answered (the database is
    unavailable, most likely). The callback is then answered 503, not 200: WeCom takes a 200
    as delivered and never sends it again, and a request told OK but not stored would be lost
    with this process. An answer that is not 200 makes WeCom send the callback again (it retries
    a few times), by when the database may be back, on this replica or another."""

    retryable = True
    status_code = 503


async def store(inbound: InboundHandler, request: Request, route: Route) -> None:
    """`inbound.accept` with the packed route, any failure raised as `NotStored`.

    A request stored before (a re-delivery) is handled again as before: the dispatcher's
    de-duplication makes it a silent no-op when it was done."""
    try:
        await inbound.accept(request, pack(route))
    except Exception as exc:
        raise NotStored(f"wecom: {request.event_id} could not be stored: {exc}") from exc
