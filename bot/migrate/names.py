"""Names for imported things: the old tool's titles made into Tocsin keys and user ids."""

from __future__ import annotations

import re
import unicodedata

_NOT_KEY = re.compile(r"[^a-z0-9]+")


def slug(title: str, fallback: str) -> str:
    """``Primary On-Call (EU)`` → ``primary-on-call-eu``; text with no Latin letters or digits
    (a Chinese team name) gives `fallback`, slugged."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    key = _NOT_KEY.sub("-", plain).strip("-")
    if key:
        return key[:60].rstrip("-")
    return _NOT_KEY.sub("-", fallback.lower()).strip("-")[:60] or "item"


def user_id(email: str, name: str, origin: str) -> str:
    """A proposed Tocsin user id: the e-mail's local part, else the name, else the origin id."""
    local = email.partition("@")[0]
    base = slug(local, "") if local else ""
    base = base.replace("-", ".") if base and base != "item" else ""
    return base or slug(name, origin)


class Namer:
    """Unique keys within one section: a second ``primary`` becomes ``primary-2``."""

    def __init__(self, taken: set[str] | None = None, prefix: str = "") -> None:
        self.taken = set(taken or ())
        self.prefix = prefix

    def claim(self, base: str) -> str:
        name = f"{self.prefix}{base}"
        candidate, n = name, 2
        while candidate in self.taken:
            candidate, n = f"{name}-{n}", n + 1
        self.taken.add(candidate)
        return candidate
