"""Texts of the command grammar (parse errors, suggestions)."""

TEXTS: dict[str, dict[str, str]] = {}
