"""The silence port: how Tocsin creates, expires and reads silences in an alert source that
keeps its own (Prometheus Alertmanager's API v2, `adapters.alertmanager`).

Failures raise `bot.errors.RetryableDelivery` (unreachable, timed out, 5xx, 429: try again
later) or `bot.errors.PermanentDelivery` (refused: bad credentials, a silence it will not take).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SilenceMatcher:
    """One matcher of a silence, as Alertmanager's API spells it."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> SilenceMatcher:
        return cls(
            str(data["name"]),
            str(data["value"]),
            bool(data.get("isRegex", False)),
            bool(data.get("isEqual", True)),
        )


@dataclass(frozen=True, slots=True)
class UpstreamSilence:
    """A silence as the source holds it."""

    id: str
    matchers: tuple[SilenceMatcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: str
    """``active``, ``pending`` (starts later) or ``expired``."""


class SilenceAPI(Protocol):
    source: str
    """The name of the source (`sources[].name`) whose API this is."""

    async def create(
        self,
        matchers: tuple[SilenceMatcher, ...],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        """Create a silence; returns its id."""
        ...

    async def expire(self, silence_id: str) -> None:
        """Expire a silence now; one already expired or unknown is not an error."""
        ...

    async def silences(self) -> list[UpstreamSilence]:
        """Every silence the source holds (expired ones included, as it lists them)."""
        ...
