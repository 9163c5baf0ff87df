"""Texts of the core: incidents, cards, buttons, authorization."""

TEXTS: dict[str, dict[str, str]] = {}
