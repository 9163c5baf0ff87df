"""User-facing text, in Chinese and English, from one catalogue (`bot/texts/`).

`t("incident.acked", "zh", user="alice")` looks the key up and formats it. A key missing in one
language falls back to English; a missing key is a programming error and raises KeyError.
"""

from __future__ import annotations

from typing import Any

from bot.errors import CommandError, UserError
from bot.texts import CATALOGUE

LANGUAGES = ("en", "zh")


def t(key: str, lang: str, /, **params: Any) -> str:
    entry = CATALOGUE[key]
    template = entry.get(lang) or entry["en"]
    return template.format(**params) if params else template


def word(exc: CommandError, lang: str) -> str:
    """A command's error as said to a person: a catalogue text, or its message as is."""
    if isinstance(exc, UserError):
        return t(exc.text_key, lang, **exc.text_params)
    return exc.message
