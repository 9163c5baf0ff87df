"""What the self-built app does with a verified callback.

- a text someone sent the app → a command; the reply goes back to them as a message;
- a press on a card → an action for the core, the reply to the presser; its fresh
  ``response_code`` is kept for the card (`CardMemory`), and the card itself is updated by the
  outbox (`WeComAppPlatform.update_card`), with that code;
- a press on a button that asks for confirmation (Rollback) → the adapter shows that person a
  confirmation card in place (spending the fresh code); its confirm button acts, its Cancel
  button restores the card.

WeCom waits five seconds for the callback's answer, so the work runs as `Work`, after it. A
command or an action for the core is first stored in the inbox with its `Route` (`receive`
returns only then, and raises `NotStored` when it cannot be stored, so WeCom is not told OK).
When the process stops before finishing it, any replica takes it over (`resume`) and answers
the person, with the press's code from the route. The confirmation steps are not stored: they
change nothing, and a lost one costs the person another press.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from adapters.chat.wecom import translate
from adapters.chat.wecom.inbox import Route, store
from adapters.chat.wecom.memory import CardMemory
from adapters.chat.wecom.platform import NAME, WeComAppPlatform
from adapters.chat.wecom.render import confirm_card, find_button, guess_language, template_card
from adapters.chat.wecom.translate import Press
from adapters.chat.work import Work
from bot.clock import Clock
from bot.errors import DeliveryError
from bot.i18n import t
from bot.inbound import InboundHandler
from bot.inbox import Request
from bot.model import (
    Button,
    ButtonStyle,
    Card,
    CardActionRequest,
    CommandRequest,
    Destination,
    Reply,
    Sender,
)

log = structlog.get_logger(__name__)


class AppInbound:
    def __init__(
        self,
        inbound: InboundHandler,
        platform: WeComAppPlatform,
        memory: CardMemory,
        work: Work,
        clock: Clock,
        *,
        bot_names: Sequence[str],
    ) -> None:
        self.inbound, self.platform, self.memory = inbound, platform, memory
        self.work, self.clock, self.bot_names = work, clock, tuple(bot_names)

    async def receive(self, fields: dict[str, str]) -> None:
        """Take one decrypted callback: store what is for the core, then start handling it
        (without waiting for that). Raises `NotStored` when it could not be stored."""
        now = self.clock.now()
        press = translate.app_press(fields, now)
        if press is not None:
            request = pressed(press)
            if request is None:  # a step the adapter draws by itself: nothing to store
                self.work.spawn(self._step(press), name=press.event_id)
                return
            await store(self.inbound, request, Route.app(press.user, press))
            self.memory.offer_code(press.task_id, press.response_code)  # the outbox spends it
            self.work.spawn(self._act(request, press.user), name=press.event_id)
            return
        command = translate.app_command(fields, now, self.bot_names)
        if command is not None:
            await store(self.inbound, command, Route.app(command.sender.platform_user_id))
            self.work.spawn(self._command(command), name=command.event_id)

    def resume(self, request: Request, route: Route) -> None:
        """Take over a request another process stored and did not finish (returns at once)."""
        if isinstance(request, CommandRequest):
            self.work.spawn(self._command(request), name=f"{request.event_id}:resumed")
            return
        self.memory.offer_code(route.task_id, route.response_code)
        self.work.spawn(self._act(request, route.user), name=f"{request.event_id}:resumed")

    async def _command(self, request: CommandRequest) -> None:
        reply = await self.inbound.command(request)
        await self.answer(request.sender.platform_user_id, reply)

    async def _act(self, request: CardActionRequest, user: str) -> None:
        reply = await self.inbound.action(request)
        await self.answer(user, reply)

    async def _step(self, press: Press) -> None:
        step = press.key.step
        if step == "ask":
            await self._ask(press)
        elif step == "cancel":
            await self._restore(press)

    async def _ask(self, press: Press) -> None:
        """Show the presser a confirmation card in place of the card."""
        key = press.key
        assert key.action is not None
        shown = self.memory.shown(press.task_id)
        lang = shown.lang if shown else "en"
        found = find_button(shown.card, key.action.value, key.value) if shown else None
        if shown is not None and found is not None:
            card, (index, button) = shown.card, found
        else:  # sent by another replica or before a restart: a plain confirmation
            button = Button(key.action.value, key.action, key.value, ButtonStyle.DANGER)
            card, index = Card(key.card_ref, key.card_ref, None, "triggered", buttons=(button,)), 0
        template = confirm_card(card, button, index, lang, press.task_id)
        await self._update(press, template)

    async def _restore(self, press: Press) -> None:
        """Cancel on a confirmation card: show the card as it was."""
        shown = self.memory.shown(press.task_id)
        if shown is not None:
            template = template_card(shown.card, shown.lang, press.task_id, for_update=True)
        else:
            lang = "en"
            gone = Card(press.key.card_ref, press.key.card_ref, None, "")
            label = t("button.cancel", lang)
            template = template_card(gone, lang, press.task_id, closed=label, for_update=True)
        await self._update(press, template)

    async def _update(self, press: Press, template: dict[str, object]) -> None:
        """Show `template` to the presser with the code their press brought."""
        code = press.response_code
        if not code:
            log.warning("wecom: a press without a response code", task=press.task_id)
            return
        try:
            await self.platform.update_for(press.user, code, template)
        except DeliveryError as exc:
            log.warning("wecom: could not show the confirmation step", error=str(exc))

    async def answer(self, user: str, reply: Reply) -> None:
        """A reply to a person, in their conversation with the app (always private)."""
        if silent(reply):
            return
        try:
            if reply.card is not None:
                lang = guess_language(reply.text + reply.card.title)
                await self.platform.send_card(user, reply.card, lang)
            else:
                await self.platform.send_text(user, reply.text)
        except DeliveryError as exc:
            log.warning("wecom: could not deliver a reply", error=str(exc))


def pressed(press: Press) -> CardActionRequest | None:
    """The action a press asks of the core; None for a step the adapter draws by itself."""
    key = press.key
    if key.step not in ("press", "confirmed") or key.action is None:
        return None
    return CardActionRequest(
        action=key.action,
        card_ref=key.card_ref,
        value=key.value,
        sender=Sender(NAME, press.user),
        chat=Destination(NAME, press.user),
        event_id=press.event_id,
        received_at=press.received_at,
    )


def silent(reply: Reply) -> bool:
    """Nothing to say: a re-delivery the core recognised, or an empty answer."""
    return bool(reply.extra.get("duplicate")) or (not reply.text.strip() and reply.card is None)
