"""The ``jenkins`` backend's settings, a service's target, and the build parameters of a run.

A run's build parameters, by default: ``TOCSIN_ACTION``, ``SERVICE``, ``ENVIRONMENT``,
``VERSION``, ``PREVIOUS_VERSION``, ``TOCSIN_RUN_ID`` and ``DRY_RUN`` (``true``/``false``), then
the target's fixed ``parameters``, then the command's ``key=value`` extras with their keys
upper-cased. ``parameter_names`` renames the first seven (``{version: IMAGE_TAG}``) or leaves one
out (``{previous: null}``), in the backend section for every job and in a target for its job.
An extra may not replace a parameter Tocsin or the configuration sets.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from bot.errors import PermanentDelivery
from bot.ports import DeployRequest
from bot.settings.durations import Duration

Standard = Literal["action", "service", "environment", "version", "previous", "run_id", "dry_run"]
NAMES: dict[str, str] = {
    "action": "TOCSIN_ACTION",
    "service": "SERVICE",
    "environment": "ENVIRONMENT",
    "version": "VERSION",
    "previous": "PREVIOUS_VERSION",
    "run_id": "TOCSIN_RUN_ID",
    "dry_run": "DRY_RUN",
}
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
Scalar = str | int | float | bool


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _names(value: dict[str, str | None]) -> dict[str, str | None]:
    for key, name in value.items():
        if name is not None and not NAME.match(name):
            raise ValueError(f"{key}: a parameter name is letters, digits, '_', '.' or '-'")
    return value


class JenkinsSettings(_Frozen):
    url: str = Field(min_length=1)
    """Jenkins's root URL, ``https://ci.example.com`` (or ``…/jenkins`` under a context path)."""
    user: str = Field(min_length=1)
    api_token: SecretStr
    """The user's API token (HTTP Basic ``user:token``; no crumb is needed with a token)."""
    timeout: Duration = timedelta(seconds=30)
    verify_tls: bool = True
    dry_run: bool = False
    """The jobs honour ``DRY_RUN=true``; when false, Tocsin never starts a job for a dry run."""
    parameter_names: dict[Standard, str | None] = {}

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        if "@" in value.split("/")[2]:
            raise ValueError("must not hold credentials (use user and api_token)")
        return value.rstrip("/")

    _parameter_names = field_validator("parameter_names")(_names)


class JenkinsTarget(_Frozen):
    job: str = Field(min_length=1)
    """The job's full name; a folder path ``team/deploy-orders`` is ``/job/team/job/…``."""
    parameters: dict[str, Scalar] = {}
    """Fixed extra build parameters for this service and environment."""
    parameter_names: dict[Standard, str | None] = {}

    @field_validator("job")
    @classmethod
    def _job(cls, value: str) -> str:
        if any(part in ("", ".", "..") for part in value.strip("/").split("/")):
            raise ValueError("must be a job name or folder path such as 'team/deploy-orders'")
        return value.strip("/")

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        for key in value:
            if not NAME.match(key):
                raise ValueError(f"{key}: a parameter name is letters, digits, '_', '.' or '-'")
        return value

    _parameter_names = field_validator("parameter_names")(_names)


def names(settings: JenkinsSettings, target: JenkinsTarget) -> dict[str, str | None]:
    """Each standard parameter's name in this job (None: not sent)."""
    merged: dict[str, str | None] = dict(NAMES)
    for chosen in (settings.parameter_names, target.parameter_names):
        merged.update(chosen.items())
    return merged


def text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_parameters(
    request: DeployRequest, settings: JenkinsSettings, target: JenkinsTarget
) -> dict[str, str]:
    """The form of ``buildWithParameters``; `PermanentDelivery` when an extra is not allowed."""
    values: dict[str, Any] = {
        "action": request.action,
        "service": request.service,
        "environment": request.environment,
        "version": request.version,
        "previous": request.previous,
        "run_id": request.run_id,
        "dry_run": request.dry_run,
    }
    form = {
        name: text(values[key]) for key, name in names(settings, target).items() if name is not None
    }
    for key, value in target.parameters.items():
        if key in form:
            raise PermanentDelivery(f"jenkins: target parameter {key} is set by Tocsin")
        form[key] = text(value)
    for key, value in request.params.items():
        if not NAME.match(key):
            raise PermanentDelivery(f"jenkins: parameter name {key[:40]!r} is not allowed")
        if key.upper() in form:
            raise PermanentDelivery(f"jenkins: parameter {key.upper()} cannot be set from chat")
        form[key.upper()] = value
    return form
