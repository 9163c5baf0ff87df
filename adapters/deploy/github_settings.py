"""The settings of the GitHub Actions backend (its ``deploy.backends`` section) and of a
service's target (``repo``, ``workflow``, ``ref``, ``inputs``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from adapters.deploy.settings_common import as_strings, http_url
from bot.settings.durations import Duration

RESERVED = ("action", "service", "environment", "version", "run_id", "dry_run")
"""The inputs Tocsin sets itself."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GitHubSettings(_Frozen):
    url: str = "https://api.github.com"
    """The REST API: ``https://api.github.com``, or ``https://<host>/api/v3`` for GHES."""
    token: SecretStr
    verify_tls: bool = True
    timeout: Duration = timedelta(seconds=30)
    lookup_attempts: int = Field(3, ge=1, le=10)
    """Tries within `start` to find a run GitHub did not name (a 204 answer)."""
    lookup_interval: Duration = timedelta(seconds=2)
    run_lookup: Duration = timedelta(minutes=10)
    """After this long without a run titled with our run id, the run is failed."""

    _url = field_validator("url")(http_url)


class GitHubTarget(_Frozen):
    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """``owner/name``."""
    workflow: str = Field(min_length=1)
    """The workflow's file name (``deploy.yml``) or numeric id."""
    ref: str = Field("main", min_length=1)
    inputs: dict[str, str] = {}
    """Fixed extra inputs; the workflow must declare them."""

    @field_validator("workflow", mode="before")
    @classmethod
    def _workflow(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("inputs", mode="before")
    @classmethod
    def _inputs(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for key in value:
            if key in RESERVED:
                raise ValueError(f"{key!r} is set by Tocsin")
        return as_strings(value)
