"""A generic HTTP webhook: Tocsin POSTs the run as signed JSON; the receiver deploys.

```yaml
deploy:
  backends:
    deployer: {kind: webhook, url: https://deployer.example.com/hooks/tocsin, secret: "${HOOK_KEY}"}
services:
  orders:
    deploy:
      prod: {backend: deployer, extra: {cluster: cn-east-1}}
```

The contract, for whoever writes the receiver:

- ``POST url`` with ``{run_id, action, service, environment, version, previous, params,
  dry_run, requested_by, approved_by, stage, canary_weight}`` (plus the target's ``extra``;
  ``stage: "canary"`` is a canary at ``canary_weight`` percent, or, in a rollback, taking the
  canary away), ``Idempotency-Key:
  <run_id>`` (a repeated key must get the first answer, not a second deploy),
  ``X-Tocsin-Timestamp: <unix seconds>`` and ``X-Tocsin-Signature: sha256=<hex HMAC-SHA256 of
  "<timestamp>.<raw body>" with the secret>`` (the timestamp is signed, so a receiver that
  refuses old ones stops replays). ``dry_run: true`` must change nothing.
- Answer ``200 {status: succeeded|failed, message}`` for a run that has finished, or
  ``202 {status_url, url?}`` for one that goes on; Tocsin then polls ``GET status_url``, which
  answers ``{status: running|succeeded|failed|cancelled, message, progress?, url?}``
  (``progress`` 0.0–1.0). A relative ``status_url`` is resolved against the hook's URL.
- Cancel is ``DELETE status_url`` (it may come more than once). GET and DELETE carry the same
  two headers, signed over the empty body.

401/403, 404 and other 4xx answers to the POST are `PermanentDelivery`; timeouts, connection
failures, 429 and 5xx are `RetryableDelivery`. The secret is only ever used to sign.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from adapters.deploy.http_common import accepted, json_body, make_client, send
from adapters.deploy.settings_common import entry_points, parse_target
from bot.clock import Clock
from bot.errors import PermanentDelivery
from bot.ports import BackendCapabilities, DeployRequest, Phase, RunRef, RunStatus
from bot.settings.durations import Duration

BODY_KEYS = (
    "run_id",
    "action",
    "service",
    "environment",
    "version",
    "previous",
    "params",
    "dry_run",
    "requested_by",
    "approved_by",
    "stage",
    "canary_weight",
)
OUR_HEADERS = ("content-type", "content-length", "host", "idempotency-key")
PHASES = {
    "running": Phase.RUNNING,
    "succeeded": Phase.SUCCEEDED,
    "failed": Phase.FAILED,
    "cancelled": Phase.CANCELLED,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return value


class WebhookSettings(_Frozen):
    url: str = Field(min_length=1)
    secret: SecretStr
    """Signs every request (``X-Tocsin-Signature``); at least 16 characters."""
    headers: dict[str, str] = {}
    """Extra request headers (an ``Authorization`` for a gateway in front of the receiver)."""
    timeout: Duration = timedelta(seconds=30)
    poll_interval: Duration = timedelta(seconds=10)
    """How often the receiver expects to be polled (a hint for the engine)."""
    verify_tls: bool = True

    _url = field_validator("url")(_http_url)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            lowered = name.lower()
            if lowered in OUR_HEADERS or lowered.startswith("x-tocsin-"):
                raise ValueError(f"{name}: set by Tocsin itself")
        return value


class WebhookTarget(_Frozen):
    url: str | None = None
    """This service's hook, instead of the backend's."""
    extra: dict[str, Any] = {}
    """More fields for the body (``{cluster: cn-east-1}``); the run's own keys cannot be set."""

    _url = field_validator("url")(_http_url)

    @field_validator("extra")
    @classmethod
    def _extra(cls, value: dict[str, Any]) -> dict[str, Any]:
        taken = sorted(set(value) & set(BODY_KEYS))
        if taken:
            raise ValueError(f"{', '.join(taken)}: set by Tocsin itself")
        return value


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()


class WebhookBackend:
    kind = "webhook"
    capabilities = BackendCapabilities(dry_run=True, cancel=True, canary=True)
    """The receiver is written to this contract, which includes honouring ``dry_run``."""

    def __init__(self, name: str, settings: WebhookSettings, *, clock: Clock) -> None:
        self.name = name
        self.poll_interval = settings.poll_interval
        self._settings = settings
        self._clock = clock
        self._secret = settings.secret.get_secret_value().encode()
        self._client = make_client(settings, headers=settings.headers)

    async def start(self, request: DeployRequest) -> RunRef:
        target = _target(request.target)
        url = target.url or self._settings.url
        body = json.dumps(
            {**target.extra, **_body(request)}, ensure_ascii=False, separators=(",", ":")
        ).encode()
        what = "webhook: start"
        response = await self._call(
            "POST", url, what, body, {"Idempotency-Key": request.run_id}, allow=()
        )
        answer = json_body(response)
        shown = _text(answer.get("url"))
        phase = PHASES.get(str(answer.get("status", "")).lower())
        if phase is not None and phase.done:
            result = {"status": str(phase), "message": _text(answer.get("message"))}
            return RunRef(request.run_id, shown, {"result": result})
        status_url = answer.get("status_url")
        if isinstance(status_url, str) and status_url:
            resolved = urljoin(url, status_url)
            if not resolved.startswith(("https://", "http://")):
                raise PermanentDelivery(f"{what}: status_url is not an http(s) URL")
            return RunRef(request.run_id, shown, {"status_url": resolved})
        raise PermanentDelivery(
            f"{what}: the answer (HTTP {response.status_code}) has neither a finished status "
            "nor a status_url"
        )

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        result = ref.data.get("result")
        if isinstance(result, dict):
            return RunStatus(Phase(result["status"]), str(result.get("message", "")), url=ref.url)
        response = await self._call(
            "GET", str(ref.data["status_url"]), "webhook: status", b"", allow=(404, 410)
        )
        if response.status_code in (404, 410):
            return RunStatus(
                Phase.FAILED,
                f"the receiver no longer knows this run (HTTP {response.status_code})",
                url=ref.url,
            )
        answer = json_body(response)
        state = str(answer.get("status", ""))
        phase = PHASES.get(state.lower())
        if phase is None:
            raise PermanentDelivery(
                f"webhook: status: unknown status {state[:40]!r} "
                "(use running, succeeded, failed or cancelled)"
            )
        return RunStatus(
            phase,
            _text(answer.get("message")),
            progress=_progress(answer.get("progress"), phase),
            url=_text(answer.get("url")) or ref.url,
            log_tail=_text(answer.get("log_tail"), 4000),
        )

    async def cancel(self, ref: RunRef, request: DeployRequest) -> None:
        if "status_url" not in ref.data:
            return  # it finished with the answer to the POST
        await self._call(
            "DELETE", str(ref.data["status_url"]), "webhook: cancel", b"", allow=(404, 409, 410)
        )

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        return None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(
        self,
        method: str,
        url: str,
        what: str,
        body: bytes,
        headers: dict[str, str] | None = None,
        *,
        allow: tuple[int, ...],
    ) -> httpx.Response:
        timestamp = str(int(self._clock.now().timestamp()))
        signed = {
            **(headers or {}),
            "X-Tocsin-Timestamp": timestamp,
            "X-Tocsin-Signature": signature(self._secret, timestamp, body),
        }
        if body:
            signed["Content-Type"] = "application/json"
        response = await send(self._client, method, url, what, content=body, headers=signed)
        if accepted(response, what, allow):
            return response
        code = response.status_code
        if code in (401, 403):
            raise PermanentDelivery(f"{what}: the receiver refused the request (HTTP {code})")
        detail = _text(json_body(response).get("message") or json_body(response).get("error"))
        raise PermanentDelivery(f"{what}: HTTP {code}" + (f": {detail[:200]}" if detail else ""))


def _target(raw: dict[str, Any]) -> WebhookTarget:
    return parse_target(WebhookTarget, raw, "webhook: bad target")


def _body(request: DeployRequest) -> dict[str, Any]:
    return {
        "run_id": request.run_id,
        "action": request.action,
        "service": request.service,
        "environment": request.environment,
        "version": request.version,
        "previous": request.previous,
        "params": dict(request.params),
        "dry_run": request.dry_run,
        "requested_by": request.requested_by,
        "approved_by": list(request.approved_by),
        "stage": request.stage,
        "canary_weight": request.canary_weight,
    }


def _text(value: Any, limit: int = 500) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _progress(value: Any, phase: Phase) -> float | None:
    if phase is Phase.SUCCEEDED:
        return 1.0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return min(max(float(value), 0.0), 1.0)
    return None


validate, validate_target, create = entry_points(WebhookSettings, WebhookTarget, WebhookBackend)
