"""Signed, expiring, single-use action links for platforms whose buttons can only open a URL.

A link names the action, the card, the destination and, for direct messages, the one person it
was sent to. A link posted in a group names nobody: whoever opens it must sign in first, so no
action is ever anonymous. Single use is enforced at execution time (`used_links`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from bot.errors import AuthenticationError
from bot.model import ActionKind, Button, Card, Destination


@dataclass(frozen=True, slots=True)
class LinkClaim:
    action: ActionKind
    card_ref: str
    value: str
    destination: str
    user_id: str
    """Empty for group links: the opener must sign in."""
    expires: int
    nonce: str


DEFAULT_TTL = timedelta(hours=24)
"""How long a card's action links work (pages set their own, `paging.link_ttl`)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, secret: str, public_url: str, ttl: timedelta = DEFAULT_TTL) -> None:
        self._key = hashlib.sha256(b"tocsin-action-link:" + secret.encode()).digest()
        self.public_url = public_url.rstrip("/")
        self.ttl = ttl

    def token(
        self,
        action: ActionKind,
        card_ref: str,
        value: str,
        destination: str,
        user_id: str,
        now: datetime,
    ) -> str:
        body = orjson.dumps(
            {
                "a": action.value,
                "r": card_ref,
                "v": value,
                "d": destination,
                "u": user_id,
                "e": int((now + self.ttl).timestamp()),
                "n": secrets.token_urlsafe(12),
            }
        )
        mac = hmac.new(self._key, body, hashlib.sha256).digest()
        return f"{_b64(body)}.{_b64(mac)}"

    def verify(self, token: str, now: datetime) -> LinkClaim:
        try:
            body_text, mac_text = token.split(".", 1)
            body, mac = _unb64(body_text), _unb64(mac_text)
        except ValueError:
            raise AuthenticationError("link.invalid") from None
        expected = hmac.new(self._key, body, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise AuthenticationError("link.invalid")
        data = orjson.loads(body)
        if int(data["e"]) < now.timestamp():
            raise AuthenticationError("link.expired")
        return LinkClaim(
            ActionKind(data["a"]),
            data["r"],
            data["v"],
            data["d"],
            data["u"],
            int(data["e"]),
            data["n"],
        )

    def url(self, token: str) -> str:
        return f"{self.public_url}/a/{token}"

    def with_links(self, card: Card, dest: Destination, now: datetime) -> Card:
        """The card with each button turned into a link; direct messages bind the recipient."""
        user_id = dest.chat[1:] if dest.chat.startswith("@") else ""
        buttons = tuple(
            Button(
                b.label,
                b.action,
                b.value,
                b.style,
                b.confirm,
                url=self.url(self.token(b.action, card.ref, b.value, str(dest), user_id, now)),
            )
            for b in card.buttons
        )
        return Card(
            card.ref,
            card.title,
            card.tier,
            card.status,
            card.fields,
            card.body,
            buttons,
            card.footer,
        )
