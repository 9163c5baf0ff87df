"""Signed, expiring, single-use action links for platforms whose buttons can only open a URL.

A link names the action, the card, the destination and, for direct messages, the one person it
was sent to. A link posted in a group names nobody: whoever opens it must sign in first, so no
action is ever anonymous.

A link is used up only by an action that happened: a refusal (an unknown person, a missing grant,
a card that is gone) or a failure leaves it for the right person, and two people opening it at
once act once (`LinkUses`). Expiry is fixed when the link is made and is checked on every use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import orjson
from sqlalchemy import delete, select, update

from bot.errors import AuthenticationError
from bot.model import ActionKind, Button, Card, Destination
from bot.store.db import Database
from bot.store.tables import inbound_events, used_links


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
        return replace(card, buttons=buttons)


LEASE = timedelta(minutes=2)
"""How long one opener holds a link while their action runs; a holder that stopped (a crashed
process) is taken over after this."""


BUSY, UNKNOWN = "?", "-"
"""What `LinkUses.hold` says instead of a user: someone is acting now; used, by whom unknown."""


class LinkUses:
    """Who may use a link right now, and who used it (`used_links`, one row per nonce).

    An opener first *holds* the link (a row whose `used_by` starts with ``?``), so attempts on
    one link run one at a time. The action itself goes through the dispatcher with the event id
    ``link:<nonce>``, whose de-duplication row commits in the action's own transaction: that,
    not this table, is what makes the effect happen once. After an allowed action the row names
    the user (`done`); after a refusal the hold and the refused attempt's de-duplication row are
    removed (`release`), so the link stays usable by the right person.
    """

    def __init__(self, db: Database, platform: str = "tocsin") -> None:
        self.db, self.platform = db, platform

    async def hold(self, nonce: str, now: datetime) -> tuple[str, str]:
        """("", token) when this opener now holds the link; (user or `UNKNOWN`, "") when it was
        used; (`BUSY`, "") while someone else's action on it runs."""
        token = "?" + secrets.token_hex(8)
        async with self.db.begin() as conn:
            stmt = (
                self.db.insert(used_links)
                .values(nonce=nonce, used_by=token, used_at=now)
                .on_conflict_do_nothing()
                .returning(used_links.c.nonce)
            )
            if (await conn.execute(stmt)).first() is not None:
                return "", token
            found = await conn.execute(select(used_links).where(used_links.c.nonce == nonce))
            row = found.first()
            if row is None:  # released since the insert: try again
                return BUSY, ""
            if not row.used_by.startswith("?"):
                return row.used_by, ""
            if row.used_at > now - LEASE:
                return BUSY, ""
            # Taken over from a holder that stopped: whether its action committed is unknown,
            # so this hold, if refused, gives back only itself (see `release`).
            token = "?" + token
            taken = await conn.execute(
                update(used_links)
                .where(used_links.c.nonce == nonce, used_links.c.used_by == row.used_by)
                .values(used_by=token, used_at=now)
            )
            return ("", token) if taken.rowcount == 1 else (BUSY, "")

    async def done(self, nonce: str, token: str, user_id: str, now: datetime) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                update(used_links)
                .where(used_links.c.nonce == nonce, used_links.c.used_by == token)
                .values(used_by=user_id[:64], used_at=now)
            )

    async def release(self, nonce: str, token: str) -> None:
        """Undo a refused attempt: it held the link, so the de-duplication row is its own
        (unless the hold was taken over, ``??``: that row may be an earlier holder's action)."""
        async with self.db.begin() as conn:
            held = await conn.execute(
                delete(used_links).where(used_links.c.nonce == nonce, used_links.c.used_by == token)
            )
            if held.rowcount == 1 and not token.startswith("??"):
                await conn.execute(
                    delete(inbound_events).where(
                        inbound_events.c.platform == self.platform,
                        inbound_events.c.event_id == event_id(nonce),
                    )
                )


def event_id(nonce: str) -> str:
    return f"link:{nonce}"
