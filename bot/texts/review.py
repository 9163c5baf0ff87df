"""Texts: review."""

TEXTS: dict[str, dict[str, str]] = {}
