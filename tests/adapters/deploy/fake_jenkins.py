"""A local fake of Jenkins's remote access API on 127.0.0.1, as much of it as the deploy backend
uses: ``buildWithParameters`` (201 + ``Location``), queue items, builds, the progressive console,
``stop`` and ``queue/cancelItem``.

It checks HTTP Basic auth (user and API token; 401 otherwise), that builds are POSTed as a form,
and answers with Jenkins's shapes (``_class``, ``why``, ``executable``, ``building``,
``result``, ``X-Text-Size``…). A queue item becomes a build only when a test calls
`run_queue_item`; a build ends when a test calls `finish` (or Tocsin stops it).
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fake_http import FakeHttpServer

USER = "tocsin"
TOKEN = "11aa22bb33cc44dd55ee66ff77aa88bb99"
START_MS = 1_767_582_000_000
"""2026-01-05 03:00 UTC, the FakeClock's start, in Jenkins's milliseconds."""


@dataclass
class QueueItem:
    id: int
    job: str
    params: dict[str, str]
    why: str = "In the quiet period. Expires in 4.9 sec"
    cancelled: bool = False
    build: int | None = None
    forgotten: bool = False


@dataclass
class Build:
    job: str
    number: int
    params: dict[str, str]
    building: bool = True
    result: str | None = None
    timestamp: int = START_MS
    estimated: int = -1
    console: bytes = b"Started by user tocsin\n"


@dataclass
class FakeJenkins(FakeHttpServer):
    jobs: set[str] = field(default_factory=lambda: {"deploy-orders", "team/deploy-orders"})
    queue: dict[int, QueueItem] = field(default_factory=dict)
    builds: dict[tuple[str, int], Build] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    """Every authenticated request: method and path with query."""
    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    """Answers (status, headers) the next requests get instead of the real one."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(101))

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._dispatch)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- what tests do ------------------------------------------------------------------------

    def run_queue_item(
        self, queue_id: int, *, estimated_ms: int = -1, started_ms: int = START_MS
    ) -> Build:
        """The queue item gets an executor: its build starts."""
        item = self.queue[queue_id]
        number = 1 + max((n for j, n in self.builds if j == item.job), default=0)
        build = Build(item.job, number, item.params, timestamp=started_ms, estimated=estimated_ms)
        self.builds[(item.job, number)] = build
        item.build, item.why = number, ""
        return build

    def forget_queue_item(self, queue_id: int) -> None:
        """Jenkins drops a left item 5 minutes after it left the queue (and on a restart)."""
        self.queue[queue_id].forgotten = True

    def log(self, job: str, number: int, text: str) -> None:
        self.builds[(job, number)].console += text.encode()

    def finish(self, job: str, number: int, result: str) -> None:
        build = self.builds[(job, number)]
        build.building, build.result = False, result
        build.console += f"Finished: {result}\n".encode()

    def fail_next(self, status: int, **headers: str) -> None:
        self.failures.append((status, headers))

    def posted(self, suffix: str) -> list[str]:
        return [path for method, path in self.requests if method == "POST" and suffix in path]

    # -- the API --------------------------------------------------------------------------------

    def _url(self, job: str, number: int | None = None) -> str:
        path = "".join(f"job/{part}/" for part in job.split("/"))
        return f"{self.base_url}/{path}" + (f"{number}/" if number is not None else "")

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != _basic(USER, TOKEN):
            return web.Response(
                status=401,
                text="Invalid password/token for user: tocsin",
                headers={"WWW-Authenticate": 'Basic realm="Jenkins"'},
            )
        self.requests.append((request.method, request.path_qs))
        if "api" in self.held:
            await self.held["api"].wait()
        if self.failures:
            status, headers = self.failures.pop(0)
            return web.Response(status=status, text="<html>Error</html>", headers=headers)
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] == ["queue"]:
            return await self._queue(request, parts[1:])
        job_parts: list[str] = []
        while len(parts) >= 2 and parts[0] == "job":
            job_parts.append(parts[1])
            parts = parts[2:]
        job = "/".join(job_parts)
        if job not in self.jobs:
            return _not_found()
        rest = "/".join(parts)
        if rest == "buildWithParameters" and request.method == "POST":
            return await self._build_with_parameters(request, job)
        if rest == "api/json":
            return self._job(job)
        if parts and parts[0].isdigit() and (job, int(parts[0])) in self.builds:
            build = self.builds[(job, int(parts[0]))]
            action = "/".join(parts[1:])
            if action == "api/json":
                return web.json_response(self._build_json(build))
            if action == "logText/progressiveText":
                return self._progressive_text(request, build)
            if action == "stop" and request.method == "POST":
                if build.building:
                    build.building, build.result = False, "ABORTED"
                    build.console += b"Aborted by tocsin\nFinished: ABORTED\n"
                raise web.HTTPFound(self._url(job, build.number))
        return _not_found()

    async def _build_with_parameters(self, request: web.Request, job: str) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return web.Response(status=400, text="Nothing is submitted")
        params = {k: str(v) for k, v in (await request.post()).items()}
        for item in self.queue.values():  # Jenkins folds an identical request still queued
            if (item.job, item.params, item.build, item.cancelled) == (job, params, None, False):
                return self._created(item)
        item = QueueItem(next(self._ids), job, params)
        self.queue[item.id] = item
        return self._created(item)

    def _created(self, item: QueueItem) -> web.Response:
        location = f"{self.base_url}/queue/item/{item.id}/"
        return web.Response(status=201, headers={"Location": location})

    async def _queue(self, request: web.Request, parts: list[str]) -> web.Response:
        if parts == ["cancelItem"] and request.method == "POST":
            queue_id = int(request.query.get("id", "0"))
            item = self.queue.get(queue_id)
            if item is None or item.forgotten:
                return web.Response(status=404, text=f"Provided id ({queue_id}) not found")
            if item.build is not None or item.cancelled:
                return web.Response(status=500, text=f"Could not cancel run for id {queue_id}")
            item.cancelled, item.why = True, ""
            return web.Response(status=204)
        if len(parts) == 4 and parts[0] == "item" and parts[2:] == ["api", "json"]:
            item = self.queue.get(int(parts[1]))
            if item is None or item.forgotten:
                return _not_found()
            return web.json_response(self._queue_json(item))
        return _not_found()

    def _queue_json(self, item: QueueItem) -> dict[str, Any]:
        body: dict[str, Any] = {
            "_class": "hudson.model.Queue$WaitingItem",
            "actions": [
                {"_class": "hudson.model.ParametersAction", "parameters": _values(item.params)}
            ],
            "blocked": False,
            "buildable": False,
            "id": item.id,
            "inQueueSince": START_MS,
            "params": "".join(f"\n{k}={v}" for k, v in item.params.items()),
            "stuck": False,
            "task": {
                "_class": "hudson.model.FreeStyleProject",
                "name": item.job.split("/")[-1],
                "url": self._url(item.job),
                "color": "blue",
            },
            "url": f"queue/item/{item.id}/",
            "why": item.why or None,
        }
        if item.build is not None or item.cancelled:
            body["_class"] = "hudson.model.Queue$LeftItem"
            body["cancelled"] = item.cancelled
            body["executable"] = None
        if item.build is not None:
            body["executable"] = {
                "_class": "hudson.model.FreeStyleBuild",
                "number": item.build,
                "url": self._url(item.job, item.build),
            }
        return body

    def _job(self, job: str) -> web.Response:
        numbers = sorted((n for j, n in self.builds if j == job), reverse=True)
        return web.json_response(
            {
                "_class": "hudson.model.FreeStyleProject",
                "builds": [
                    {
                        "_class": "hudson.model.FreeStyleBuild",
                        "actions": [
                            {"_class": "hudson.model.CauseAction"},
                            {
                                "_class": "hudson.model.ParametersAction",
                                "parameters": _values(self.builds[(job, n)].params),
                            },
                        ],
                        "number": n,
                        "url": self._url(job, n),
                    }
                    for n in numbers
                ],
            }
        )

    def _build_json(self, build: Build) -> dict[str, Any]:
        return {
            "_class": "hudson.model.FreeStyleBuild",
            "building": build.building,
            "displayName": f"#{build.number}",
            "duration": 0 if build.building else 42_000,
            "estimatedDuration": build.estimated,
            "fullDisplayName": f"{build.job} #{build.number}",
            "id": str(build.number),
            "number": build.number,
            "result": build.result,
            "timestamp": build.timestamp,
            "url": self._url(build.job, build.number),
        }

    def _progressive_text(self, request: web.Request, build: Build) -> web.Response:
        start = int(request.query.get("start", "0"))
        if start > len(build.console):  # the text rolled over: Jenkins sends it all
            start = 0
        headers = {"X-Text-Size": str(len(build.console))}
        if build.building:
            headers["X-More-Data"] = "true"
        return web.Response(
            body=build.console[start:],
            headers=headers,
            content_type="text/plain",
            charset="utf-8",
        )


def _basic(user: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def _values(params: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"_class": "hudson.model.StringParameterValue", "name": k, "value": v}
        for k, v in params.items()
    ]


def _not_found() -> web.Response:
    return web.Response(
        status=404, text="<html><body>Not Found</body></html>", content_type="text/html"
    )
