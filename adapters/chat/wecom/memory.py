"""What the adapter remembers about the interactive cards it sent, by their ``task_id``.

WeCom updates a card only with a single-use ``response_code`` (valid 72 h). ``message/send``
returns one, which the core keeps in the card's stored reference (``card_posts``); every press
on the card brings a fresh one in its callback, on the inbound side. `CardMemory` keeps the
newest unused code per card, so the outbox's next `update_card` spends the freshest code and the
stored one stays for later; a code once spent is never offered again (WeCom re-sends callbacks).

It also keeps the card last shown (and its language), for what the adapter draws by itself:
the confirmation step of Rollback, and the AI bot's in-place answers.

Why in memory and not in the database: the core's tables are not the adapter's, and a lost
entry costs little. A press's fresh code does reach the database once, in the press's inbox
route (`adapters.chat.wecom.inbox`): when the process that took the press stops before
finishing it, the replica that takes it over offers the code to its own memory, and updates
the presser's card with it. What stays per process: the outbox update of a card may run on a
replica that did not take the press; without a fresh code there (or after a restart), the
update falls back to the stored code, and without one either, to posting the card anew.
Bounded (oldest forgotten first) and expiring with WeCom's 72 hours.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.model import Card

CODE_TTL = timedelta(hours=72)


@dataclass(slots=True)
class Shown:
    card: Card
    lang: str
    userid: str
    """The one person the card was sent to (self-built app); empty for the AI bot."""
    code: str = ""
    code_until: datetime | None = None
    until: datetime | None = None


class CardMemory:
    def __init__(self, clock: Clock, *, size: int = 20_000) -> None:
        self.clock, self.size = clock, size
        self._cards: OrderedDict[str, Shown] = OrderedDict()
        self._spent: OrderedDict[str, None] = OrderedDict()

    def remember(self, task_id: str, card: Card, lang: str, userid: str = "") -> None:
        """The card `task_id` now shows `card` (keeping any unused code)."""
        now = self.clock.now()
        shown = self._cards.get(task_id)
        if shown is None:
            shown = Shown(card, lang, userid)
        shown.card, shown.lang, shown.userid = card, lang, userid or shown.userid
        shown.until = now + CODE_TTL
        self._put(task_id, shown)

    def shown(self, task_id: str) -> Shown | None:
        """What `task_id` shows, if this process sent or updated it within 72 hours."""
        shown = self._cards.get(task_id)
        if shown is None or not shown.card.ref:
            return None
        if shown.until is not None and shown.until <= self.clock.now():
            return None
        return shown

    def offer_code(self, task_id: str, code: str) -> None:
        """A callback brought `code` for `task_id`: it replaces any older unused one."""
        if not code or code in self._spent:
            return
        now = self.clock.now()
        shown = self._cards.get(task_id)
        if shown is None:  # sent by another replica or before a restart: keep the code anyway
            shown = Shown(Card(ref="", title="", tier=None, status=""), "", "")
            shown.until = now + CODE_TTL
        shown.code, shown.code_until = code, now + CODE_TTL
        self._put(task_id, shown)

    def take_code(self, task_id: str) -> str:
        """The newest unused code for `task_id` (now taken), or ``""``."""
        shown = self._cards.get(task_id)
        if shown is None or not shown.code:
            return ""
        code, shown.code = shown.code, ""
        if shown.code_until is not None and shown.code_until <= self.clock.now():
            return ""
        return code

    def give_back(self, task_id: str, code: str) -> None:
        """`code` was taken but not spent (the call failed before WeCom used it)."""
        shown = self._cards.get(task_id)
        if shown is not None and not shown.code and code not in self._spent:
            shown.code = code

    def spent(self, code: str) -> None:
        """WeCom consumed `code` (or refused it): never offer it again."""
        if not code:
            return
        self._spent[code] = None
        while len(self._spent) > self.size:
            self._spent.popitem(last=False)

    def _put(self, task_id: str, shown: Shown) -> None:
        self._cards[task_id] = shown
        self._cards.move_to_end(task_id)
        while len(self._cards) > self.size:
            self._cards.popitem(last=False)
