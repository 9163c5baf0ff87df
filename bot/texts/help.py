"""Texts: help."""

TEXTS: dict[str, dict[str, str]] = {}
