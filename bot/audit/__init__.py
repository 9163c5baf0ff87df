"""The append-only, keyed hash-chained audit log of every command and action, allowed or denied."""

from bot.audit.keys import AuditKey, AuditKeyMissing, AuditKeys, keys_for, use_keys
from bot.audit.log import AuditEntry, VerifyResult, append, verify

__all__ = [
    "AuditEntry",
    "AuditKey",
    "AuditKeyMissing",
    "AuditKeys",
    "VerifyResult",
    "append",
    "keys_for",
    "use_keys",
    "verify",
]
