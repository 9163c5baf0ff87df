"""Prometheus (or anything speaking its HTTP API: Thanos, VictoriaMetrics, Mimir) as a
`bot.ports.MetricsSource`.

```yaml
metrics:
  prometheus:
    url: http://prometheus.monitoring:9090     # a path prefix is kept: https://host/prometheus
    bearer_token: "${PROM_TOKEN}"              # or username + password (basic), or neither
    timeout: 10s
```

A query is ``GET <url>/api/v1/query?query=…&time=<unix seconds>``; the answer is
``{"status": "success", "data": {"resultType": …, "result": …}}`` with values as strings
(``"0.02"``, ``"NaN"``, ``"+Inf"``). What the answers mean here:

- 2xx with ``status: success`` → a `QueryResult` (a matrix's series as their latest value);
- 400 (``bad_data``: the query does not parse), 422 (it cannot be executed), 401/403, 404 and
  other 4xx, or an answer that is not Prometheus's → `PermanentDelivery`;
- timeouts, connection failures, 429 and 5xx (a 503 ``timeout`` / ``unavailable`` while the
  TSDB starts) → `RetryableDelivery`, with ``Retry-After`` when given.

Messages carry Prometheus's own error text (it is about the query), never a credential.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from adapters.edge.http import json_body, retry_after, send
from bot.errors import ConfigError, PermanentDelivery, RetryableDelivery
from bot.ports import QueryResult, Sample
from bot.settings.durations import Duration
from bot.settings.loader import format_error

RESULT_TYPES = ("vector", "scalar", "matrix", "string")
RETRYABLE_ERRORS = ("timeout", "canceled", "unavailable")
"""``errorType`` values that say "try again", whatever the status code."""


class PrometheusSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(min_length=1)
    """The server's base URL, without ``/api/v1``."""
    bearer_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    timeout: Duration = timedelta(seconds=10)
    verify_tls: bool = True
    headers: dict[str, str] = {}
    """Extra request headers (``X-Scope-OrgID`` for Mimir or Cortex…)."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return value

    @model_validator(mode="after")
    def _auth(self) -> PrometheusSettings:
        if self.bearer_token is not None and (self.username or self.password):
            raise ValueError("give bearer_token or username and password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if (self.bearer_token is not None or self.username is not None) and any(
            name.lower() == "authorization" for name in self.headers
        ):
            raise ValueError("headers: Authorization: set from bearer_token or username")
        return self


def validate(raw: Any) -> list[str]:
    """Problems in the section, each worded ``key: message`` (empty when valid)."""
    try:
        PrometheusSettings.model_validate(raw)
    except ValidationError as exc:
        return [format_error(err, "(section)") for err in exc.errors()]
    return []


def create(raw: Any, name: str = "prometheus") -> PrometheusSource:
    problems = validate(raw)
    if problems:
        raise ConfigError(problems)
    return PrometheusSource(PrometheusSettings.model_validate(raw), name=name)


class PrometheusSource:
    def __init__(
        self,
        settings: PrometheusSettings,
        *,
        name: str = "prometheus",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        auth: httpx.Auth | None = None
        headers = dict(settings.headers)
        if settings.bearer_token is not None:
            headers["Authorization"] = f"Bearer {settings.bearer_token.get_secret_value()}"
        elif settings.username is not None and settings.password is not None:
            auth = httpx.BasicAuth(settings.username, settings.password.get_secret_value())
        self._client = httpx.AsyncClient(
            base_url=settings.url,
            headers=headers,
            auth=auth,
            timeout=settings.timeout.total_seconds(),
            verify=settings.verify_tls,
            follow_redirects=False,
            transport=transport,
        )

    async def query(self, promql: str, at: datetime | None = None) -> QueryResult:
        params = {"query": promql}
        if at is not None:
            params["time"] = unix_time(at)
        what = f"{self.name}: query"
        response = await send(self._client, "GET", "/api/v1/query", what, params=params)
        return read_answer(response, what)

    async def aclose(self) -> None:
        await self._client.aclose()


def unix_time(at: datetime) -> str:
    """`at` as Unix seconds with milliseconds; a naive datetime is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return f"{at.timestamp():.3f}"


def read_answer(response: httpx.Response, what: str) -> QueryResult:
    """The answer as a `QueryResult`, or the delivery error it means."""
    body = json_body(response)
    code = response.status_code
    if body.get("status") == "error" or not 200 <= code < 300:
        error_type = str(body.get("errorType") or "")
        detail = f"{error_type}: {body.get('error')}" if error_type else f"HTTP {code}"
        message = f"{what}: {detail}"
        if code == 429 or code >= 500 or error_type in RETRYABLE_ERRORS:
            raise RetryableDelivery(message, retry_after(response))
        raise PermanentDelivery(message)
    data = body.get("data")
    if body.get("status") != "success" or not isinstance(data, dict):
        raise PermanentDelivery(f"{what}: not a Prometheus answer (HTTP {code})")
    result_type = data.get("resultType")
    result = data.get("result")
    try:
        samples = _samples(result_type, result)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        raise PermanentDelivery(f"{what}: unreadable {result_type} result") from exc
    return QueryResult(samples, str(result_type))


def _samples(result_type: Any, result: Any) -> tuple[Sample, ...]:
    if result_type == "vector":  # a native histogram has no "value": it reads as None
        return tuple(_sample(item.get("value"), item.get("metric")) for item in result)
    if result_type == "matrix":
        return tuple(
            _sample(item["values"][-1], item.get("metric")) for item in result if item["values"]
        )
    if result_type in ("scalar", "string"):
        return (_sample(result, None),)
    raise ValueError(f"unknown resultType {result_type!r}")


def _sample(point: Any, metric: Any) -> Sample:
    """``[<unix time>, "<value>"]`` and its labels as a `Sample`."""
    _, text = point if point is not None else (None, None)
    labels = {str(k): str(v) for k, v in (metric or {}).items()}
    return Sample(parse_value(text), labels)


def parse_value(text: Any) -> float | None:
    """Prometheus's text for a value as a float (``+Inf`` included); None for NaN or text
    that is not a number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value
