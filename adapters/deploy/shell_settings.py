"""The ``shell`` backend's settings, a service's target, and a run's command line and environment.

The command line is the configured ``command``, the target's ``args``, then ``--action A
--service S --environment E --version V --previous P --run-id R [--dry-run]`` and ``--param
KEY=VALUE`` per extra: each value one argv item, never seen by a shell. The environment is
PATH, HOME and LANG from Tocsin's, the configured ``env`` (backend, then target), and the
``TOCSIN_*`` variables with the run's values; ``TOCSIN_STAGE=canary`` with
``TOCSIN_CANARY_WEIGHT`` (also a ``--param``) asks for a canary, or, in a rollback, for taking
the canary away.
"""

from __future__ import annotations

import os
import re
import string
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.errors import PermanentDelivery
from bot.ports import DeployRequest
from bot.settings.durations import Duration

PARAM_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
"""``[A-Za-z0-9_.-]+``, and not starting with ``-`` (a parser would take it for an option)."""
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BASE_ENV = ("PATH", "HOME", "LANG")
URL_FIELDS = frozenset({"run_id", "service", "environment", "version"})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_env(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if not ENV_NAME.match(name):
            raise ValueError(f"{name}: not a variable name")
        if name.startswith("TOCSIN_"):
            raise ValueError(f"{name}: TOCSIN_* variables are set by Tocsin")
    return value


def _absolute(value: str | None) -> str | None:
    if value is not None and not os.path.isabs(value):
        raise ValueError("must be an absolute path")
    return value


class ShellSettings(_Frozen):
    command: tuple[str, ...] = Field(min_length=1)
    """The script and its fixed arguments, as a list: ``[/opt/deploy/deploy.sh, --verbose]``."""
    working_dir: str | None = None
    timeout: Duration = timedelta(minutes=15)
    env: dict[str, str] = {}
    kill_grace: Duration = timedelta(seconds=10)
    """After SIGTERM (cancel, timeout), how long until SIGKILL."""
    log_dir: str | None = None
    """Where each run's output and exit code are kept (default: <temp dir>/tocsin-runs)."""
    log_url_template: str | None = None
    """The run's page, e.g. ``https://ci.example.com/logs/{run_id}`` (also ``{service}``,
    ``{environment}``, ``{version}``)."""
    check_command: tuple[str, ...] | None = None
    """Asked ``--service S --environment E --version V`` whether an artifact exists: exit 0
    yes, 1 no, anything else cannot tell."""
    check_timeout: Duration = timedelta(seconds=5)
    """A slower check cannot tell (Tocsin waits 5s at most for any backend's check)."""

    @field_validator("command", "check_command", mode="before")
    @classmethod
    def _not_a_string(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError("must be a list such as [/opt/deploy/deploy.sh], not a shell string")
        return value

    @field_validator("command", "check_command")
    @classmethod
    def _command(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and (not value or not value[0]):
            raise ValueError("must name a program first, e.g. [/opt/deploy/deploy.sh]")
        if value is not None and any("\x00" in part for part in value):
            raise ValueError("must not contain NUL characters")
        return value

    _env = field_validator("env")(_check_env)
    _dirs = field_validator("working_dir", "log_dir")(_absolute)

    @field_validator("log_url_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(value) if name}
        except ValueError as exc:
            raise ValueError(f"not a template: {exc}") from None
        if not fields <= URL_FIELDS:
            raise ValueError(f"may use {{{'}, {'.join(sorted(URL_FIELDS))}}} only")
        return value


class ShellTarget(_Frozen):
    args: tuple[str, ...] = ()
    """Fixed arguments for this service and environment, after the command's own."""
    env: dict[str, str] = {}

    _env = field_validator("env")(_check_env)


def command_line(settings: ShellSettings, target: ShellTarget, request: DeployRequest) -> list[str]:
    """The run's argv; `PermanentDelivery` for an extra or a value that cannot be passed."""
    named = {
        "--action": request.action,
        "--service": request.service,
        "--environment": request.environment,
        "--version": request.version,
        "--previous": request.previous,
        "--run-id": request.run_id,
    }
    args = [*settings.command, *target.args]
    for option, value in named.items():
        if value.startswith("-") or "\x00" in value:
            raise PermanentDelivery(f"shell: {option} {value[:40]!r} cannot be passed")
        args += [option, value]
    if request.dry_run:
        args.append("--dry-run")
    for key, value in request.params.items():
        if not PARAM_KEY.match(key):
            raise PermanentDelivery(f"shell: parameter name {key[:40]!r} is not allowed")
        if "\x00" in value:
            raise PermanentDelivery(f"shell: parameter {key} holds a NUL character")
        args += ["--param", f"{key}={value}"]
    return args


def environment(
    settings: ShellSettings, target: ShellTarget, request: DeployRequest | None
) -> dict[str, str]:
    """The program's environment (without the run's variables when `request` is None)."""
    env = {name: os.environ[name] for name in BASE_ENV if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(settings.env)
    env.update(target.env)
    if request is not None:
        env.update(
            {
                "TOCSIN_ACTION": request.action,
                "TOCSIN_SERVICE": request.service,
                "TOCSIN_ENVIRONMENT": request.environment,
                "TOCSIN_VERSION": request.version,
                "TOCSIN_PREVIOUS": request.previous,
                "TOCSIN_RUN_ID": request.run_id,
                "TOCSIN_DRY_RUN": "true" if request.dry_run else "false",
                "TOCSIN_REQUESTED_BY": request.requested_by,
                "TOCSIN_APPROVED_BY": ",".join(request.approved_by),
                "TOCSIN_STAGE": request.stage,
                "TOCSIN_CANARY_WEIGHT": str(request.canary_weight),
            }
        )
    if any("\x00" in value for value in env.values()):
        raise PermanentDelivery("shell: an environment value holds a NUL character")
    return env


def log_url(settings: ShellSettings, request: DeployRequest) -> str:
    if settings.log_url_template is None:
        return ""
    return settings.log_url_template.format(
        run_id=request.run_id,
        service=request.service,
        environment=request.environment,
        version=request.version,
    )
