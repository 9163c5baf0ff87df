"""The audit chain's keys: derived from a secret, named by an id, rotated by configuration.

Every secret (`audit.key`, else `tocsin.secret_key`; each of `audit.previous_keys`) becomes a
32-byte key by HMAC-SHA256(secret, "tocsin audit v1"), so the configured secret itself never
signs anything and the same secret used elsewhere (action links, feeds) gives an unrelated key.
A key's id is the first 8 hex digits of SHA-256 of the derived key: it is written on each row
and names the key without revealing it. New rows use the current key; `verify` accepts a row
under any configured key whose id matches.

A process that appends finds its keys with `keys_for(db)`: the composition root calls
`use_keys(db, AuditKeys.from_settings(settings))` once for each database handle it makes.
"""

from __future__ import annotations

import hashlib
import hmac
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.errors import AuditChainBroken

if TYPE_CHECKING:
    from bot.settings.schema import Settings
    from bot.store.db import Database

LABEL = b"tocsin audit v1"


class AuditKeyMissing(AuditChainBroken):
    """The audit log is keyed but this process has no audit key: nothing is written."""


@dataclass(frozen=True, slots=True)
class AuditKey:
    id: str
    secret: bytes = field(repr=False)

    @classmethod
    def derive(cls, secret: str) -> AuditKey:
        key = hmac.new(secret.encode(), LABEL, hashlib.sha256).digest()
        return cls(hashlib.sha256(key).hexdigest()[:8], key)


@dataclass(frozen=True, slots=True)
class AuditKeys:
    """The current key (signs new rows) and every key rows may be verified under."""

    current: AuditKey
    accepted: dict[str, AuditKey]

    @classmethod
    def of(cls, current: str, previous: Iterable[str] = ()) -> AuditKeys:
        key = AuditKey.derive(current)
        accepted = {key.id: key}
        for secret in previous:
            old = AuditKey.derive(secret)
            accepted.setdefault(old.id, old)
        return cls(key, accepted)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditKeys:
        audit = settings.audit
        current = audit.key.get_secret_value() if audit.key else settings.tocsin.secret_key
        return cls.of(current, (k.get_secret_value() for k in audit.previous_keys))

    def get(self, key_id: str) -> AuditKey | None:
        return self.accepted.get(key_id)


_registry: weakref.WeakKeyDictionary[Database, AuditKeys] = weakref.WeakKeyDictionary()


def use_keys(db: Database, keys: AuditKeys) -> None:
    """Appends through `db` (commands, presses, pruning) sign with `keys.current`."""
    _registry[db] = keys


def keys_for(db: Database) -> AuditKeys | None:
    return _registry.get(db)
