"""Reading callback bodies: the encrypted envelope, and the decrypted message's fields.

The self-built app sends XML by default (``<xml><ToUserName/><Encrypt/><AgentID/></xml>``)
or JSON when configured so (``{"ToUserName", "Encrypt", "AgentID"}``); its decrypted message is
XML or JSON likewise. The AI bot sends ``{"encrypt": …}`` and JSON inside. Field names are
matched case-insensitively.

XML is parsed with the standard library after refusing any DTD (entities can only be declared
in one, so no entity expansion or external entity can happen), on bodies already bounded.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from bot.errors import InputError


def ciphertext(body: bytes) -> str:
    """The ``Encrypt`` of a callback body, XML or JSON."""
    text = _text(body).strip()
    if text.startswith("{"):
        data = _json(text, "callback body")
        value = next((v for k, v in data.items() if k.lower() == "encrypt"), None)
    else:
        value = xml_fields(text, "callback body").get("Encrypt")
    if not isinstance(value, str) or not value.strip():
        raise InputError("wecom: the callback body has no Encrypt field")
    return value.strip()


def message_fields(plaintext: str) -> dict[str, str]:
    """A self-built app's decrypted message as flat fields (XML elements or JSON keys)."""
    text = plaintext.strip()
    if text.startswith("{"):
        data = _json(text, "decrypted message")
        return {k: _flat(v) for k, v in data.items() if isinstance(k, str)}
    return xml_fields(text, "decrypted message")


def json_message(plaintext: str) -> dict[str, Any]:
    """An AI bot's decrypted message."""
    return _json(plaintext.strip(), "decrypted message")


def xml_fields(text: str, what: str) -> dict[str, str]:
    """The child elements of an ``<xml>`` document as ``{tag: text}``."""
    if "<!doctype" in text.lower():
        raise InputError(f"wecom: the {what} declares a DTD; refused")
    try:
        root = ElementTree.fromstring(text)  # noqa: S314 — `text` has no DTD
    except ElementTree.ParseError:
        raise InputError(f"wecom: the {what} is not well-formed XML") from None
    return {child.tag: (child.text or "").strip() for child in root}


def _json(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise InputError(f"wecom: the {what} is not valid JSON") from None
    if not isinstance(data, dict):
        raise InputError(f"wecom: the {what} is not a JSON object")
    return data


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("wecom: the callback body is not UTF-8") from None


def _flat(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)
