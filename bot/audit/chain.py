"""One link of the chain: how a row's hash is made, and why a row does not fit.

A keyed row's `hash` is HMAC-SHA256 under its key (`key_id`) of the previous row's hash and the
row's content (with the key id and a version label). A legacy row (`key_id` NULL, written
before migration 0013) has the plain SHA-256 link of the old code. Legacy rows may only come
before the first keyed row: that row's HMAC covers the legacy tip's hash, so the legacy prefix
cannot be rewritten without breaking it; an unkeyed row after a keyed one is a forgery.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import orjson

from bot.audit.keys import AuditKey, AuditKeys

GENESIS = "0" * 64
VERSION = "tocsin-audit-v1"


def _content(row_id: int, at: datetime, fields: tuple[str, ...], detail: Any) -> list[Any]:
    return [row_id, at.astimezone(UTC).isoformat(), *fields, detail]


def legacy_link(prev: str, row_id: int, at: datetime, fields: tuple[str, ...], detail: Any) -> str:
    """The plain SHA-256 link of rows written before the audit key (anyone can recompute it)."""
    body = orjson.dumps(_content(row_id, at, fields, detail), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(prev.encode() + body).hexdigest()


def keyed_link(
    key: AuditKey, prev: str, row_id: int, at: datetime, fields: tuple[str, ...], detail: Any
) -> str:
    body = orjson.dumps(
        [VERSION, key.id, *_content(row_id, at, fields, detail)], option=orjson.OPT_SORT_KEYS
    )
    return hmac.new(key.secret, prev.encode() + body, hashlib.sha256).hexdigest()


def row_fields(row: Any) -> tuple[str, ...]:
    return (row.actor, row.platform, row.action, row.target, row.outcome)


def misfit(row: Any, prev: str, keys: AuditKeys | None, keyed_before: bool) -> str:
    """Why `row` does not follow a row whose hash is `prev` ("" when it does)."""
    if row.prev_hash != prev:
        return f"row {row.id}: previous hash does not match"
    fields = row_fields(row)
    if row.key_id is None:
        if keyed_before:
            return (
                f"row {row.id}: unkeyed (plain SHA-256) entry after keyed entries; only rows "
                "written before the audit key was introduced may be unkeyed"
            )
        if legacy_link(prev, row.id, row.at, fields, row.detail) != row.hash:
            return f"row {row.id}: content was changed"
        return ""
    key = keys.get(row.key_id) if keys is not None else None
    if key is None:
        return (
            f"row {row.id}: signed with key id {row.key_id}, which is not configured "
            "(audit.key, tocsin.secret_key or audit.previous_keys)"
        )
    link = keyed_link(key, prev, row.id, row.at, fields, row.detail)
    if hmac.compare_digest(link.encode(), str(row.hash).encode()):
        return ""
    return f"row {row.id}: content was changed (its HMAC under key {key.id} does not match)"
