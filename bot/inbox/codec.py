"""Requests and routes as JSON, for the inbox's rows.

A route is whatever small dataclass an adapter keeps to answer a request (where to reply, the
press's update token). `pack` and `unpack` turn such a dataclass into plain JSON and back:
fields of str, int, float, bool, None and datetime (kept as ISO 8601 text).
"""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime
from typing import Any, TypeVar

from bot.model import ActionKind, CardActionRequest, CommandRequest, Destination, Sender

Request = CommandRequest | CardActionRequest
Json = dict[str, Any]
T = TypeVar("T")


def kind_of(request: Request) -> str:
    return "command" if isinstance(request, CommandRequest) else "action"


def encode(request: Request) -> Json:
    common: Json = {
        "sender": dataclasses.asdict(request.sender),
        "chat": str(request.chat),
        "event_id": request.event_id,
        "received_at": request.received_at.isoformat(),
    }
    if isinstance(request, CommandRequest):
        return {**common, "text": request.text}
    return {
        **common,
        "action": request.action.value,
        "card_ref": request.card_ref,
        "value": request.value,
    }


def decode(kind: str, data: Json) -> Request:
    """The request `encode` stored; `ValueError` when the row cannot be read."""
    try:
        sender = Sender(**data["sender"])
        chat = Destination.parse(data["chat"])
        received_at = datetime.fromisoformat(data["received_at"])
        if kind == "command":
            return CommandRequest(data["text"], sender, chat, data["event_id"], received_at)
        if kind == "action":
            return CardActionRequest(
                ActionKind(data["action"]),
                data["card_ref"],
                data["value"],
                sender,
                chat,
                data["event_id"],
                received_at,
            )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"an inbox row that cannot be read: {exc!r}") from exc
    raise ValueError(f"an inbox row of unknown kind {kind!r}")


def pack(route: Any) -> Json:
    """A route dataclass as JSON."""
    out: Json = {}
    for f in dataclasses.fields(route):
        value = getattr(route, f.name)
        out[f.name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def unpack(cls: type[T], data: Json) -> T:
    """The route `pack` stored, as `cls`; fields it lacks take their defaults."""
    values: Json = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        if value is not None and _is_datetime(f.type):
            value = datetime.fromisoformat(value)
        values[f.name] = value
    return cls(**values)


def _is_datetime(hint: Any) -> bool:
    """Whether a field is declared ``datetime`` or ``datetime | None`` (also as a string, under
    ``from __future__ import annotations``)."""
    if isinstance(hint, str):
        return hint.replace(" ", "") in ("datetime", "datetime|None", "None|datetime")
    return hint is datetime or datetime in typing.get_args(hint)
