"""What a run is (pure): its states, the operation an approval binds to, where it deploys."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from bot.settings import Settings

AWAITING_CONFIRMATION = "awaiting_confirmation"
AWAITING_APPROVAL = "awaiting_approval"
QUEUED = "queued"
STARTING = "starting"
RUNNING = "running"
CANCELLING = "cancelling"
SUCCEEDED, FAILED, CANCELLED = "succeeded", "failed", "cancelled"
DENIED, EXPIRED = "denied", "expired"

WAITING = (AWAITING_CONFIRMATION, AWAITING_APPROVAL, QUEUED)
ACTIVE = (STARTING, RUNNING, CANCELLING)
ENDED = (SUCCEEDED, FAILED, CANCELLED, DENIED, EXPIRED)

VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
PARAM_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
ROLLBACK_FIRST = 1000
"""Added to a rollback's priority: rollbacks start before queued deploys."""


def op_hash(
    action: str,
    service: str,
    environment: str,
    version: str,
    previous: str,
    backend: str,
    params: dict[str, str],
    dry_run: bool,
) -> str:
    """The operation an approval approves: any change to it needs a new approval."""
    body = orjson.dumps(
        [action, service, environment, version, previous, backend, params, dry_run],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(body).hexdigest()


def target_for(settings: Settings, service: str, environment: str) -> tuple[str, dict[str, Any]]:
    """The backend name and its target settings for `service` in `environment` (KeyError when
    the service does not deploy there)."""
    targets = settings.services[service].deploy
    found = targets.get(environment) or targets.get("*")
    if found is None:
        raise KeyError(environment)
    target = {k: v for k, v in found.items() if k != "backend"}
    return str(found["backend"]), target
