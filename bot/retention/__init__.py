"""Data retention: what Tocsin deletes once old enough (`retention:`), in small batches."""

from bot.retention.prune import PruneReport, prune
from bot.retention.runner import RetentionPass

__all__ = ["PruneReport", "RetentionPass", "prune"]
