"""A button press carried through a platform and back: the card, the action, the value.

Every platform hands a pressed button's payload back to Tocsin; each carries the same three
fields under the same short names (their size counts against the platform's limit):
``{"r": card ref, "a": action, "v": value}``. Slack, DingTalk and WeCom take the payload as a
string (compact JSON, `encode` / `decode`), Feishu as a JSON object (`fields` / `from_fields`).

Reading back refuses — returns None for — anything Tocsin did not write: not JSON, not an object,
over the platform's limit (checked before parsing, so an oversized value costs nothing), an empty
card reference, an unknown action, a field of the wrong type. Such presses come from old or
foreign cards, or from someone crafting requests; they are ignored, never guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.model import ActionKind, Button


@dataclass(frozen=True, slots=True)
class ButtonValue:
    """A pressed button's value, decoded."""

    card_ref: str
    action: ActionKind
    value: str


def fields(card_ref: str, button: Button) -> dict[str, str]:
    """The press's fields as a JSON object."""
    return {"r": card_ref, "a": button.action.value, "v": button.value}


def encode(card_ref: str, button: Button) -> str:
    """The press's fields as compact JSON."""
    return dumps(fields(card_ref, button))


def decode(raw: object, limit: int, size: Callable[[str], int] = len) -> ButtonValue | None:
    """What `encode` wrote, or None; `size` measures `raw` against `limit` (characters unless
    the platform counts bytes)."""
    data = loads(raw, limit, size)
    return from_fields(data) if data is not None else None


def from_fields(data: object) -> ButtonValue | None:
    """What `fields` wrote, or None."""
    if not isinstance(data, Mapping):
        return None
    ref, action, value = data.get("r"), data.get("a"), data.get("v", "")
    if not (isinstance(ref, str) and ref and isinstance(action, str) and isinstance(value, str)):
        return None
    try:
        return ButtonValue(ref, ActionKind(action), value)
    except ValueError:
        return None


def dumps(data: Mapping[str, object]) -> str:
    """Compact JSON, non-ASCII kept as it is (it counts against the platform's limit)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def loads(raw: object, limit: int, size: Callable[[str], int] = len) -> dict[str, Any] | None:
    """The JSON object in `raw`, or None when it is not a non-empty string within `limit`, not
    JSON, or not an object."""
    if not isinstance(raw, str) or not raw or size(raw) > limit:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def utf8_size(text: str) -> int:
    """`text`'s length in UTF-8 bytes, for platforms whose limits count bytes."""
    return len(text.encode("utf-8", "surrogatepass"))
