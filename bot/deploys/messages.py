"""The engine's own words on a run (its `message`, and the `reason` it was asked for), kept in
the ledger in English and shown to each reader in their language.

Each is a catalogue text: `said` writes it in English for the ledger, and `shown` reads a stored
one back into `lang` by matching it against the English templates. Anything else — a backend's
own message, a reason someone typed — is shown as it is.
"""

from __future__ import annotations

import re
from functools import cache

from bot.i18n import t
from bot.texts import CATALOGUE

_METRIC = re.compile(r"(?P<name>[A-Za-z_][\w.-]*): (?P<note>.+)", re.DOTALL)
PREFIXES = ("deploy.msg.", "deploy.reason.", "gate.note.")


def said(key: str, **params: object) -> str:
    """The text of `key` as the ledger keeps it (English)."""
    return t(key, "en", **params)


def shown(text: str, lang: str) -> str:
    """`text` from the ledger in `lang`, when it is one of the engine's own words."""
    if lang == "en" or not text:
        return text
    for key, pattern in _patterns():
        found = pattern.fullmatch(text)
        if found is not None:
            return t(key, lang, **{k: shown(v, lang) for k, v in found.groupdict().items()})
    if "; " in text:  # one note per metric
        return t("deploy.msg.join", lang).join(shown(part, lang) for part in text.split("; "))
    named = _METRIC.fullmatch(text)  # a metric's note: "error_rate: no data"
    if named is not None:
        return f"{named['name']}: {shown(named['note'], lang)}"
    return text


def _pattern(template: str) -> str:
    """`template` as a pattern: its text as is, each placeholder a group (a repeated one must
    say the same again)."""
    parts, seen = re.split(r"\{(\w+)\}", template), set()
    body = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            body.append(re.escape(part))
        elif part in seen:
            body.append(f"(?P={part})")
        else:
            seen.add(part)
            body.append(f"(?P<{part}>.+?)")
    return "".join(body)


@cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each engine text's English template as a pattern, longest first (the most specific)."""
    found = [
        (key, re.compile(_pattern(entry["en"]), re.DOTALL))
        for key, entry in CATALOGUE.items()
        if key.startswith(PREFIXES)
    ]
    return tuple(sorted(found, key=lambda item: -len(item[1].pattern)))
