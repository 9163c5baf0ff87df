"""Turning a `Page` into what providers take — phone numbers in the provider's form, template
variables filled from the page's named values — and provider messages into safe log text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from bot.errors import PermanentDelivery
from bot.ports import Page

_E164 = re.compile(r"^\+[1-9]\d{4,14}$")


def e164(page: Page) -> str:
    """The page's number, which must be E.164 (``+8613800000000``); spaces and dashes go."""
    number = re.sub(r"[\s\-()]", "", page.to)
    if not _E164.match(number):
        raise PermanentDelivery(f"{page.channel}: {page.to!r} is not an E.164 phone number")
    return number


def aliyun_number(page: Page, international_prefix: str = "00") -> str:
    """Aliyun's form: a mainland number without its country code (``13800000000``), any other
    as `international_prefix` + country code + number (``0085212345678``)."""
    number = e164(page)
    if number.startswith("+86"):
        return number[3:]
    return international_prefix + number[1:]


def fill(value: str, limit: int | None) -> str:
    """One template value, shortened to `limit` characters with "…" (providers refuse longer)."""
    value = " ".join(value.split())
    if limit is not None and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


def named_params(page: Page, names: Mapping[str, str], limit: int | None) -> dict[str, str]:
    """Template variable → value, from a mapping of variable → page field."""
    return {var: fill(page.params.get(field, ""), limit) for var, field in names.items()}


def ordered_params(page: Page, fields: Iterable[str], limit: int | None) -> list[str]:
    """The values of `fields`, in order (Tencent Cloud's ``{1}``, ``{2}``…)."""
    return [fill(page.params.get(field, ""), limit) for field in fields]


def brief(message: object, limit: int = 160) -> str:
    """A provider's error message, safe to log: one line, short, without the string-to-sign
    Aliyun echoes on a signature mismatch."""
    text = " ".join(str(message or "").split())
    cut = re.search(r"(?i)server string to sign", text)
    if cut:
        text = text[: cut.start()].rstrip(" :.,") + " (string to sign left out)"
    return text if len(text) <= limit else text[: limit - 1] + "…"
