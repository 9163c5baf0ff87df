"""The settings of the Argo CD backend (its ``deploy.backends`` section) and of a service's
target (``app``, ``parameter``, ``project``, ``app_namespace``).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from adapters.deploy import argocd_spec as spec
from adapters.deploy.settings_common import http_url
from bot.settings.durations import Duration


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ArgoCdSettings(_Frozen):
    url: str = Field(min_length=1)
    """The Argo CD server, ``https://argocd.example.com`` (API and UI)."""
    token: SecretStr
    verify_tls: bool = True
    timeout: Duration = timedelta(seconds=30)

    _url = field_validator("url")(http_url)


class ArgoCdTarget(_Frozen):
    app: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    parameter: str
    """``helm:<key>``, ``kustomize-image:<image>`` or ``revision``."""
    project: str | None = None
    """When set, the application must belong to this Argo CD project."""
    app_namespace: str | None = None
    """For applications outside Argo CD's own namespace ("apps in any namespace")."""

    @field_validator("parameter")
    @classmethod
    def _parameter(cls, value: str) -> str:
        spec.parse_parameter(value)
        return value
