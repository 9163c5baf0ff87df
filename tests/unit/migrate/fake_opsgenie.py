"""A local fake of Opsgenie's REST API v2, serving the answers in ``data/opsgenie`` (laid out
like the API's paths) the way Opsgenie does: ``Authorization: GenieKey <key>`` checked on every
call (401 ``Could not authenticate`` otherwise), users in limit/offset pages with a
``paging.next`` link, rotations only with ``expand=rotation``, and the schedule timeline only
for a ``date``. Tests change `answers` to script surprises."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fake_http import FakeHttpServer

DATA = Path(__file__).parent / "data" / "opsgenie"
KEY = "3f2a3b0e-8c1d-4e5f-9a6b-7c8d9e0f1a2b"
NOTE = "_source"


def load_answers(folder: Path = DATA) -> dict[str, Any]:
    """Each file's answer by its API path (``v2/users.json`` → ``/v2/users``), notes removed."""
    answers: dict[str, Any] = {}
    for file in sorted(folder.rglob("*.json")):
        body = json.loads(file.read_text(encoding="utf-8"))
        body.pop(NOTE, None)
        answers["/" + file.relative_to(folder).with_suffix("").as_posix()] = body
    return answers


def write_folder(answers: dict[str, Any], folder: Path) -> Path:
    """The answers as a folder of files, as `FileReader` reads them."""
    for path, body in answers.items():
        file = folder.joinpath(*path.strip("/").split("/")).with_suffix(".json")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(body), encoding="utf-8")
    return folder


@dataclass
class Call:
    path: str
    query: dict[str, str]


@dataclass(kw_only=True)
class FakeOpsgenie(FakeHttpServer):
    key: str = KEY
    page_size: int = 2
    """At most this many users a page, whatever `limit` asks (so the story spans pages)."""
    answers: dict[str, Any] = field(default_factory=load_answers)
    calls: list[Call] = field(default_factory=list)
    looping: bool = False
    """Users' next link points back at the same page, for ever."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v2/users", self._users)
        app.router.add_get("/v2/{tail:.+}", self._answer)

    def _refused(self, request: web.Request) -> web.Response | None:
        self.calls.append(Call(request.path, dict(request.query)))
        if request.headers.get("Authorization") != f"GenieKey {self.key}":
            return _error(401, "Could not authenticate")
        return None

    async def _users(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = copy.deepcopy(self.answers["/v2/users"])
        everyone = body["data"]
        limit = int(request.query.get("limit", "20"))
        offset = int(request.query.get("offset", "0"))
        size = min(limit, self.page_size)
        body["data"] = everyone[offset : offset + size]
        paging = {"first": self._page(limit, 0), "last": self._page(limit, _last(everyone, size))}
        if self.looping:
            paging["next"] = self._page(limit, offset)
        elif offset + size < len(everyone):
            paging["next"] = self._page(limit, offset + size)
        body["paging"] = paging
        return web.json_response(body)

    def _page(self, limit: int, offset: int) -> str:
        return f"{self.url}/v2/users?limit={limit}&offset={offset}&sort=username&order=asc"

    async def _answer(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = self.answers.get(request.path)
        if body is None:
            return _error(404, f"No entity found at {request.path}")
        body = copy.deepcopy(body)
        if request.path == "/v2/schedules" and request.query.get("expand") != "rotation":
            for schedule in body["data"]:
                schedule.pop("rotations", None)
        if request.path.endswith("/timeline") and "date" not in request.query:
            return _error(422, "date is required")
        return web.json_response(body)


def _last(items: list[Any], size: int) -> int:
    return max(0, (len(items) - 1) // size * size)


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"message": message, "took": 0.001, "requestId": str(uuid.uuid4())}, status=status
    )
