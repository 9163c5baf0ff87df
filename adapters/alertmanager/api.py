"""Alertmanager's API v2 as a `bot.ports.silences.SilenceAPI`: silences created, expired and
read where the alerts are routed, so a silence made from a card stops the notifications
themselves and one made in Alertmanager's UI or with amtool can show on the card.

```yaml
sources:
  - name: alertmanager
    kind: alertmanager
    api:
      url: http://alertmanager:9093       # a path prefix is kept (--web.route-prefix)
      bearer_token: ${AM_TOKEN}           # or username + password (basic), or neither
      timeout: 5s
```

The calls: ``POST /api/v2/silences`` (a ``postableSilence``; the answer is
``{"silenceID": …}``), ``DELETE /api/v2/silence/<id>`` and ``GET /api/v2/silences`` (every
``gettableSilence``, expired ones included). What the answers mean here:

- 2xx → done; an expire of a silence Alertmanager does not know (404, or the 500 ``silence not
  found`` that 0.25 answers) is done too: the silence is gone either way;
- 400 (its body a JSON string: ``"silence invalid: …"``), 401, 403, 422 (``{"code", "message"}``
  from its request validation) and other 4xx → `PermanentDelivery` with Alertmanager's words;
- timeouts, connection failures, 429 and other 5xx → `RetryableDelivery`, with ``Retry-After``
  when given.

Messages name the source and the call, never a credential.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from adapters.edge.http import retry_after, send
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports.silences import SilenceAPI, SilenceMatcher, UpstreamSilence
from bot.settings import Settings
from bot.settings.schema import AlertmanagerAPI

log = structlog.get_logger(__name__)

MESSAGE_LIMIT = 300
"""Characters of Alertmanager's own error text kept in a message."""


class AlertmanagerSilences:
    """One Alertmanager's silences. Nothing connects until the first call."""

    def __init__(
        self,
        source: str,
        settings: AlertmanagerAPI,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.source = source
        headers = {"Accept": "application/json"}
        auth: httpx.Auth | None = None
        if settings.bearer_token:
            headers["Authorization"] = f"Bearer {settings.bearer_token}"
        elif settings.username and settings.password:
            auth = httpx.BasicAuth(settings.username, settings.password)
        self._client = httpx.AsyncClient(
            base_url=settings.url.rstrip("/"),
            headers=headers,
            auth=auth,
            timeout=settings.timeout.total_seconds(),
            follow_redirects=False,
            transport=transport,
        )

    async def create(
        self,
        matchers: tuple[SilenceMatcher, ...],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        body = {
            "matchers": [m.as_json() for m in matchers],
            "startsAt": iso(starts_at),
            "endsAt": iso(ends_at),
            "createdBy": created_by,
            "comment": comment,
        }
        what = f"{self.source}: create silence"
        response = await send(self._client, "POST", "/api/v2/silences", what, json=body)
        _judge(response, what)
        answer = _json(response)
        silence_id = answer.get("silenceID") if isinstance(answer, dict) else None
        if not isinstance(silence_id, str) or not silence_id:
            raise PermanentDelivery(f"{what}: no silenceID in the answer")
        return silence_id

    async def expire(self, silence_id: str) -> None:
        what = f"{self.source}: expire silence {silence_id}"
        path = f"/api/v2/silence/{quote(silence_id, safe='')}"
        response = await send(self._client, "DELETE", path, what)
        if response.status_code == 404 or _not_found(response):
            return
        _judge(response, what)

    async def silences(self) -> list[UpstreamSilence]:
        what = f"{self.source}: list silences"
        response = await send(self._client, "GET", "/api/v2/silences", what)
        _judge(response, what)
        answer = _json(response)
        if not isinstance(answer, list):
            raise PermanentDelivery(f"{what}: not a list of silences (HTTP {response.status_code})")
        found = []
        for item in answer:
            try:
                found.append(parse_silence(item))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                # One silence this reading does not understand hides only itself.
                log.warning("unreadable silence", source=self.source, error=str(exc))
        return found

    async def aclose(self) -> None:
        await self._client.aclose()


def silence_apis(settings: Settings) -> dict[str, SilenceAPI]:
    """One client per `alertmanager` source that names its API, by source name."""
    return {
        source.name: AlertmanagerSilences(source.name, source.api)
        for source in settings.sources
        if source.kind == "alertmanager" and source.api is not None
    }


def parse_silence(item: dict[str, Any]) -> UpstreamSilence:
    """A ``gettableSilence`` as an `UpstreamSilence` (raises on a shape it is not)."""
    status = item.get("status") or {}
    return UpstreamSilence(
        id=str(item["id"]),
        matchers=tuple(SilenceMatcher.from_json(m) for m in item["matchers"]),
        starts_at=parse_time(item["startsAt"]),
        ends_at=parse_time(item["endsAt"]),
        created_by=str(item.get("createdBy") or ""),
        comment=str(item.get("comment") or ""),
        state=str(status.get("state") or "active"),
    )


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as Alertmanager writes it; naive is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: object) -> datetime:
    if not isinstance(text, str):
        raise TypeError(f"not a time: {text!r}")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _judge(response: httpx.Response, what: str) -> None:
    """Nothing for a 2xx answer; else the delivery error it means, in Alertmanager's words."""
    code = response.status_code
    if 200 <= code < 300:
        return
    message = f"{what}: HTTP {code}"
    reason = _reason(response)
    if reason:
        message = f"{message}: {reason}"
    if code == 429 or code >= 500:
        raise RetryableDelivery(message, retry_after(response))
    raise PermanentDelivery(message)


def _reason(response: httpx.Response) -> str:
    """Alertmanager's error text: a JSON string (its 400s and 500s), a ``message`` (its
    request validation's 422s), or a short plain text (a proxy's)."""
    body = _json(response)
    if isinstance(body, str):
        text = body
    elif isinstance(body, dict) and isinstance(body.get("message"), str):
        text = body["message"]
    elif body is None and "html" not in response.headers.get("content-type", ""):
        text = response.text
    else:
        text = ""
    return " ".join(text.split())[:MESSAGE_LIMIT]


def _not_found(response: httpx.Response) -> bool:
    """Alertmanager 0.25 answers an expire of an unknown silence with a 500 saying so."""
    return response.status_code == 500 and "not found" in _reason(response).lower()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
