"""How each paged person is reached: channels by tier, their addresses, and what was skipped
(pure)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from bot.model import Tier
from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    address: str
    """Phone number, e-mail address, or for chat the destinations joined with commas."""


def choose(
    settings: Settings,
    user_id: str,
    tier: Tier,
    *,
    route_notify: tuple[str, ...] | None,
    chat_platforms: Collection[str],
    notifiers: Collection[str],
) -> tuple[list[Delivery], list[dict[str, Any]]]:
    """The deliveries for one person and the why-not notes for the channels left out."""
    user = next((u for u in settings.users if u.id == user_id), None)
    if user is None:
        return [], [{"key": "why.unknown_user", "user": user_id}]
    contact = user.contact
    wanted = contact.notify.get(tier) or route_notify or settings.paging.channels.get(tier, ())
    chosen: list[Delivery] = []
    notes: list[dict[str, Any]] = []
    for channel in dict.fromkeys(wanted):
        if channel == "chat":
            platforms = _chat_platforms(contact.chat, user.identities, chat_platforms)
            if platforms:
                chosen.append(Delivery("chat", ",".join(f"{p}:@{user.id}" for p in platforms)))
            else:
                notes.append({"key": "why.no_chat", "user": user.id})
            continue
        address = contact.email if channel == "email" else contact.phone
        if not address:
            notes.append(
                {
                    "key": f"why.no_{'email' if channel == 'email' else 'phone'}",
                    "user": user.id,
                    "channel": channel,
                }
            )
        elif channel not in notifiers:
            notes.append({"key": "why.no_provider", "user": user.id, "channel": channel})
        else:
            chosen.append(Delivery(channel, address))
    if not wanted:
        notes.append({"key": "why.no_channels", "user": user.id, "tier": tier.value})
    return chosen, notes


def _chat_platforms(
    preferred: tuple[str, ...] | None,
    identities: dict[str, str],
    live: Collection[str],
) -> list[str]:
    if preferred is not None:
        return [p for p in preferred if p in live]
    found = [p for p in identities if p in live]
    if not found and "console" in live:
        found = ["console"]
    return found
