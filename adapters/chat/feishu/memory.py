"""The cards this process last showed in each Feishu message, so a button press can be answered
with the card at once (Feishu shows the answer's card in place of the pressed one).

Each entry carries a version that grows with every post or update of that message: a press that
sees the version change while the core worked knows the outbox already showed a newer card, and
answers with that one instead of its own. Bounded; the oldest entries go first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from bot.model import Card


@dataclass(frozen=True, slots=True)
class Shown:
    card: Card
    lang: str
    version: int


class CardMemory:
    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._shown: OrderedDict[str, Shown] = OrderedDict()
        self._versions = 0

    def remember(self, message_id: str, card: Card, lang: str) -> None:
        self._versions += 1
        self._shown[message_id] = Shown(card, lang, self._versions)
        self._shown.move_to_end(message_id)
        while len(self._shown) > self.size:
            self._shown.popitem(last=False)

    def get(self, message_id: str) -> Shown | None:
        return self._shown.get(message_id)

    def version(self, message_id: str) -> int:
        shown = self._shown.get(message_id)
        return shown.version if shown is not None else 0
