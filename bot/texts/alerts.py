"""Texts: alerts."""

TEXTS: dict[str, dict[str, str]] = {}
