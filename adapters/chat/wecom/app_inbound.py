"""What the self-built app does with a verified callback, after WeCom has been answered.

- a text someone sent the app → a command; the reply goes back to them as a message;
- a press on a card → its fresh ``response_code`` is kept for the card (`CardMemory`) at once,
  then the action goes to the core and the reply to the presser; the card itself is updated by
  the outbox (`WeComAppPlatform.update_card`), with that code;
- a press on a button that asks for confirmation (Rollback) → the adapter shows that person a
  confirmation card in place (spending the fresh code); its confirm button acts, its Cancel
  button restores the card.

Everything here runs as `Work`, after the callback was answered (WeCom waits five seconds).
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from adapters.chat.wecom import translate
from adapters.chat.wecom.memory import CardMemory
from adapters.chat.wecom.platform import NAME, WeComAppPlatform
from adapters.chat.wecom.render import confirm_card, find_button, guess_language, template_card
from adapters.chat.wecom.translate import Press
from adapters.chat.work import Work
from bot.clock import Clock
from bot.errors import DeliveryError
from bot.i18n import t
from bot.inbound import InboundHandler
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

    def receive(self, fields: dict[str, str]) -> None:
        """Start handling one decrypted callback (returns at once)."""
        now = self.clock.now()
        press = translate.app_press(fields, now)
        if press is not None:
            if press.key.step in ("press", "confirmed"):  # the outbox updates the card with it
                self.memory.offer_code(press.task_id, press.response_code)
            self.work.spawn(self._press(press), name=press.event_id)
            return
        command = translate.app_command(fields, now, self.bot_names)
        if command is not None:
            self.work.spawn(self._command(command), name=command.event_id)

    async def _command(self, request: CommandRequest) -> None:
        reply = await self.inbound.command(request)
        await self.answer(request.sender.platform_user_id, reply)

    async def _press(self, press: Press) -> None:
        key = press.key
        if key.step == "noop":
            return
        if key.step == "ask":
            await self._ask(press)
            return
        if key.step == "cancel":
            await self._restore(press)
            return
        assert key.action is not None
        reply = await self.inbound.action(
            CardActionRequest(
                action=key.action,
                card_ref=key.card_ref,
                value=key.value,
                sender=Sender(NAME, press.user),
                chat=Destination(NAME, press.user),
                event_id=press.event_id,
                received_at=press.received_at,
            )
        )
        await self.answer(press.user, reply)

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


def silent(reply: Reply) -> bool:
    """Nothing to say: a re-delivery the core recognised, or an empty answer."""
    return bool(reply.extra.get("duplicate")) or (not reply.text.strip() and reply.card is None)
