"""Button keys: what a pressed template-card button sends back as its ``EventKey``.

A key is compact JSON (WeCom allows 1024 bytes, unique within a card):

- ``{"r": card ref, "a": action, "v": value, "i": index}`` — a press;
- the same with ``"c": 1`` — a button that asks for confirmation first (Rollback): pressing it
  shows the person a confirmation card, whose confirm button carries ``"ok": 1``;
- ``{"x": "cancel", "r": card ref}`` — the confirmation card's Cancel;
- ``{"x": "noop"}`` — the inert button of a card that has nothing left to press.

`parse_key` reads them back and returns None for anything else (a foreign or old card). The
press fields are the codec every platform shares (`adapters.edge.buttons`), the limit counted in
bytes as WeCom counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from adapters.edge import buttons
from bot.model import ActionKind

MAX_KEY = 1024
Step = Literal["press", "ask", "confirmed", "cancel", "noop"]


@dataclass(frozen=True, slots=True)
class Key:
    step: Step
    card_ref: str = ""
    action: ActionKind | None = None
    value: str = ""


def action_key(card_ref: str, action: ActionKind, value: str, index: int, *, step: Step) -> str:
    data: dict[str, object] = {"r": card_ref, "a": action.value, "v": value, "i": index}
    if step == "ask":
        data["c"] = 1
    elif step == "confirmed":
        data["ok"] = 1
    return buttons.dumps(data)


def cancel_key(card_ref: str) -> str:
    return buttons.dumps({"x": "cancel", "r": card_ref})


NOOP_KEY = '{"x":"noop"}'


def parse_key(raw: object) -> Key | None:
    """The key `action_key` / `cancel_key` wrote, or None."""
    data = buttons.loads(raw, MAX_KEY, buttons.utf8_size)
    if data is None:
        return None
    ref = data.get("r", "")
    if data.get("x") == "noop":
        return Key("noop")
    if data.get("x") == "cancel":
        return Key("cancel", ref) if isinstance(ref, str) and ref else None
    press = buttons.from_fields(data)
    if press is None:
        return None
    step: Step = "confirmed" if data.get("ok") == 1 else "ask" if data.get("c") == 1 else "press"
    return Key(step, press.card_ref, press.action, press.value)
