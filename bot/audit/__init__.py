"""The append-only, hash-chained audit log of every command and action, allowed or denied."""

from bot.audit.log import AuditEntry, append, verify

__all__ = ["AuditEntry", "append", "verify"]
