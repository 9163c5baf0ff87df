"""Text helpers shared by the renderers: cutting to WeCom's limits, neutralising markup."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.model import Tier

TIER_EMOJI = {Tier.P0: "🔴", Tier.P1: "🟠", Tier.P2: "🟡", Tier.P3: "⚪"}
NO_TIER_EMOJI = "🔵"
_MARKUP = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］", "`": "'"})


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, ending with … when shortened."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def cut_bytes(text: str, limit: int) -> str:
    """`text` within `limit` UTF-8 bytes (WeCom counts bytes), ending with … when shortened."""
    if len(text.encode()) <= limit:
        return text
    budget = max(limit - len("…".encode()), 0)
    kept = text.encode()[:budget].decode("utf-8", errors="ignore")
    return kept.rstrip() + "…"


def plain(text: str) -> str:
    """Alert text made inert for WeCom markdown: no ``<@all>`` pings, no links, no fonts."""
    return text.translate(_MARKUP)


def one_line(text: str) -> str:
    return " ".join(text.split())


def tier_emoji(tier: Tier | None) -> str:
    return TIER_EMOJI[tier] if tier else NO_TIER_EMOJI


def host(url: str) -> str:
    """The host a link opens (``wiki.example.com``), shown beside its label."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1]
