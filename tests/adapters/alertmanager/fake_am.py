"""A local fake of Alertmanager's silence API (v2) on 127.0.0.1, answering with the codes and
shapes Alertmanager 0.25 answers (checked against the Debian package's binary):

- ``POST /api/v2/silences``: a body that is not JSON → 400 ``{"code": 400, "message"}``; a
  missing required field → 422 ``{"code": 602, "message": "<field> in body is required"}``; no
  matcher → 422 (code 612); a bad regex, matchers that all match the empty string, a start not
  before the end, an end in the past → 400 with a JSON string; else 200 ``{"silenceID"}``;
- ``DELETE /api/v2/silence/<id>``: an id that is not a UUID → 422; an unknown one → 404 (or, with
  ``old_not_found``, the 500 ``"silence not found"`` of 0.25); an expired one → 200;
- ``GET /api/v2/silences``: every silence, expired ones included, state worked out from `now`.

Everything is also served under ``/prefix`` (Alertmanager behind ``--web.route-prefix``). With
`bearer_token` or `username` set, other credentials get 401. `fail` scripts answers (503…);
`down` answers every call with 503. `add` and `expire` stand in for amtool.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fake_http import FakeHttpServer

REQUIRED = ("matchers", "startsAt", "endsAt", "createdBy", "comment")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def matcher(name: str, value: str, *, regex: bool = False, equal: bool = True) -> dict[str, Any]:
    return {"name": name, "value": value, "isRegex": regex, "isEqual": equal}


@dataclass
class Silence:
    id: str
    matchers: list[dict[str, Any]]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    updated_at: datetime

    def state(self, now: datetime) -> str:
        if self.ends_at <= now:
            return "expired"
        return "pending" if self.starts_at > now else "active"

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": {"state": self.state(now)},
            "updatedAt": iso(self.updated_at),
            "comment": self.comment,
            "createdBy": self.created_by,
            "endsAt": iso(self.ends_at),
            "matchers": self.matchers,
            "startsAt": iso(self.starts_at),
        }


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeAlertmanager(FakeHttpServer):
    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    old_not_found: bool = False
    down: bool = False
    silences: dict[str, Silence] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    failures: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)

    def routes(self, app: web.Application) -> None:
        for prefix in ("", "/prefix"):
            app.router.add_post(f"{prefix}/api/v2/silences", self._post)
            app.router.add_get(f"{prefix}/api/v2/silences", self._list)
            app.router.add_delete(f"{prefix}/api/v2/silence/{{id}}", self._delete)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting ------------------------------------------------------------------------------

    def fail(
        self, status: int, body: str = "", *, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """The next `times` calls answer `status` with `body` (sent as is)."""
        self.failures.extend((status, body, dict(headers or {})) for _ in range(times))

    def add(
        self,
        matchers: list[dict[str, Any]],
        ends_at: datetime,
        *,
        created_by: str = "bob",
        comment: str = "made with amtool",
        starts_at: datetime | None = None,
    ) -> str:
        """A silence made outside Tocsin (amtool, the UI); returns its id."""
        now = self.now()
        silence = Silence(
            str(uuid.uuid4()), matchers, starts_at or now, ends_at, created_by, comment, now
        )
        self.silences[silence.id] = silence
        return silence.id

    def expire(self, silence_id: str) -> None:
        silence = self.silences[silence_id]
        silence.ends_at = silence.updated_at = self.now()

    def active(self) -> list[Silence]:
        now = self.now()
        return [s for s in self.silences.values() if s.state(now) == "active"]

    # -- HTTP ---------------------------------------------------------------------------------

    async def _gate(self, request: web.Request) -> web.Response | None:
        """Record the call; answer it here when scripted, down or not authorised."""
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append(Request(request.method, request.path, dict(request.headers), body))
        if self.failures:
            status, text, headers = self.failures.pop(0)
            return web.Response(status=status, text=text, headers=headers)
        if self.down:
            return web.Response(status=503, text="Service Unavailable")
        if not self._authorised(request.headers.get("Authorization", "")):
            return web.Response(status=401, text="Unauthorized\n")
        return None

    def _authorised(self, header: str) -> bool:
        if self.bearer_token is not None:
            return header == f"Bearer {self.bearer_token}"
        if self.username is not None:
            pair = f"{self.username}:{self.password}".encode()
            return header == f"Basic {base64.b64encode(pair).decode()}"
        return True

    async def _post(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        body = self.requests[-1].body
        if not isinstance(body, dict):
            message = f'parsing silence body from "" failed, because {body!r} is not JSON'
            return web.json_response({"code": 400, "message": message}, status=400)
        for name in REQUIRED:
            if name not in body:
                return _invalid(602, f"{name} in body is required")
        if not body["matchers"]:
            return _invalid(612, "matchers in body should have at least 1 items")
        for index, m in enumerate(body["matchers"]):
            for name in ("name", "value", "isRegex"):
                if name not in m:
                    return _invalid(602, f"matchers.{index}.{name} in body is required")
        problem = self._problem(body)
        if problem:
            return web.json_response(problem, status=400)
        now = self.now()
        silence = Silence(
            str(uuid.uuid4()),
            [{"isEqual": True, **m} for m in body["matchers"]],
            max(_time(body["startsAt"]), now),
            _time(body["endsAt"]),
            body["createdBy"],
            body["comment"],
            now,
        )
        self.silences[silence.id] = silence
        return web.json_response({"silenceID": silence.id})

    def _problem(self, body: dict[str, Any]) -> str:
        """Alertmanager's refusal of a well-formed silence, or ""."""
        all_empty = True
        for index, m in enumerate(body["matchers"]):
            if m["isRegex"]:
                try:
                    re.compile(m["value"])
                except re.error:
                    return (
                        f"silence invalid: invalid label matcher {index}: "
                        f'invalid regular expression "{m["value"]}"'
                    )
            all_empty = all_empty and matches(m, {})
        if all_empty:
            return "silence invalid: at least one matcher must not match the empty string"
        starts, ends = _time(body["startsAt"]), _time(body["endsAt"])
        if starts >= ends:
            return "Failed to create silence: start time must be before end time"
        if ends < self.now():
            return "Failed to create silence: end time can't be in the past"
        return ""

    async def _delete(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        silence_id = request.match_info["id"]
        if not UUID.match(silence_id):
            return _invalid(601, f'silenceID in path must be of type uuid: "{silence_id}"')
        silence = self.silences.get(silence_id)
        if silence is None:
            if self.old_not_found:
                return web.json_response("silence not found", status=500)
            return web.Response(status=404)
        if silence.state(self.now()) != "expired":
            self.expire(silence_id)
        return web.Response(status=200)

    async def _list(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        now = self.now()
        return web.json_response([s.as_json(now) for s in self.silences.values()])


def matches(m: dict[str, Any], labels: dict[str, str]) -> bool:
    """Alertmanager's matcher semantics: a missing label is the empty string; regexes anchored."""
    actual = labels.get(m["name"], "")
    hit = re.fullmatch(m["value"], actual) is not None if m["isRegex"] else actual == m["value"]
    return hit if m.get("isEqual", True) else not hit


def _invalid(code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=422)


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
