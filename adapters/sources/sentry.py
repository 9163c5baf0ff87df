"""sentry alerts to `AlertEvent`s (being written)."""

from __future__ import annotations

from typing import Any

from bot.alerts.batch import Parsed
from bot.errors import InputError


def parse(payload: Any, source: str) -> Parsed:
    raise InputError("the sentry source kind is not implemented yet")
