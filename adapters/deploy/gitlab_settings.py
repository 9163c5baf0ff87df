"""The settings of the GitLab CI backend (its ``deploy.backends`` section) and of a service's
target (``project``, ``ref``, ``variables``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from adapters.deploy.settings_common import as_strings, http_url
from bot.settings.durations import Duration

KEY = re.compile(r"^[A-Za-z0-9_]+$")
"""What GitLab takes as a CI/CD variable name."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GitLabSettings(_Frozen):
    url: str = Field(min_length=1)
    """The GitLab instance, ``https://gitlab.example.com``."""
    token: SecretStr
    """A personal, group or project access token (``api`` scope), sent as ``PRIVATE-TOKEN``."""
    trigger_token: SecretStr | None = None
    verify_tls: bool = True
    timeout: Duration = timedelta(seconds=30)

    _url = field_validator("url")(http_url)


class GitLabTarget(_Frozen):
    project: str = Field(min_length=1)
    """The project's id (``42``) or path (``group/name``)."""
    ref: str = Field("main", min_length=1)
    variables: dict[str, str] = {}
    """Fixed extra CI/CD variables for this service and environment."""

    @field_validator("project", mode="before")
    @classmethod
    def _project(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("variables", mode="before")
    @classmethod
    def _variables(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for key in value:
            if not KEY.fullmatch(str(key)):
                raise ValueError(f"{key!r}: keys may hold only letters, digits and _")
            if str(key).upper().startswith("TOCSIN_"):
                raise ValueError(f"{key!r}: TOCSIN_ variables are set by Tocsin")
        return as_strings(value)
