"""A local fake of GitLab's REST API v4 for pipelines on 127.0.0.1.

It checks ``PRIVATE-TOKEN`` (401 ``{"message": "401 Unauthorized"}``), that a project path
arrives URL-encoded (``shop%2Forders``; else the router answers 404, as GitLab's does), the
JSON content type, the ref (400 ``{"message": {"base": ["Reference not found"]}}``) and the
variables' shape; the trigger endpoint checks its form ``token`` instead (404 when wrong).
Pipelines and their jobs move only when a test says so (`set_status`, `add_job`); cancel
cancels the unfinished jobs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fake_http import FakeHttpServer

Json = dict[str, Any]
GITLAB_TOKEN = "glpat-tocsinTest0123456789"
TRIGGER_TOKEN = "glptt-trigger0123456789abcdef"
PROJECT_ID = 42
PROJECT_PATH = "shop/orders"
ENDED = ("success", "failed", "canceled", "skipped")


def _message(status: int, message: Any) -> web.Response:
    return web.json_response({"message": message}, status=status)


@dataclass
class FakeGitLab(FakeHttpServer):
    branches: set[str] = field(default_factory=lambda: {"main", "release"})
    pipelines: dict[int, Json] = field(default_factory=dict)
    variables: dict[int, dict[str, str]] = field(default_factory=dict)
    """Each pipeline's variables, as the jobs would see them."""
    jobs: dict[int, list[Json]] = field(default_factory=dict)
    failures: list[web.Response] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    _job_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5001))

    def routes(self, app: web.Application) -> None:
        base = "/api/v4/projects/{project}"
        app.router.add_post(base + "/pipeline", self._create)
        app.router.add_post(base + "/trigger/pipeline", self._trigger)
        app.router.add_get(base + "/pipelines", self._list)
        app.router.add_get(base + "/pipelines/{pid}", self._get)
        app.router.add_get(base + "/pipelines/{pid}/variables", self._variables)
        app.router.add_get(base + "/pipelines/{pid}/jobs", self._jobs)
        app.router.add_post(base + "/pipelines/{pid}/cancel", self._cancel)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- the test's side -----------------------------------------------------------------

    def set_status(self, pid: int, status: str) -> None:
        pipeline = self.pipelines[pid]
        pipeline["status"] = status
        pipeline["updated_at"] = "2026-01-05T03:05:00.000Z"
        if status in ENDED:
            pipeline["finished_at"] = pipeline["updated_at"]

    def add_job(self, pid: int, name: str, status: str, stage: str = "deploy") -> None:
        job_id = next(self._job_ids)
        self.jobs[pid].append(
            {
                "id": job_id,
                "name": name,
                "stage": stage,
                "status": status,
                "ref": self.pipelines[pid]["ref"],
                "allow_failure": False,
                "web_url": f"{self.base_url}/{PROJECT_PATH}/-/jobs/{job_id}",
                "pipeline": {"id": pid, "project_id": PROJECT_ID, "status": status},
            }
        )

    def fail(self, status: int, message: str, headers: Json | None = None) -> None:
        """The next request gets this answer."""
        self.failures.append(
            web.json_response({"message": message}, status=status, headers=headers)
        )

    # --- the server's side ---------------------------------------------------------------

    async def _enter(
        self, request: web.Request, key: str, token: bool = True
    ) -> web.Response | None:
        if key in self.held:
            await self.held[key].wait()
        if token and request.headers.get("PRIVATE-TOKEN") != GITLAB_TOKEN:
            return _message(401, "401 Unauthorized")
        if self.failures:
            return self.failures.pop(0)
        # an unencoded path (shop/orders) does not even reach here: the router answers 404
        if request.match_info["project"] not in (str(PROJECT_ID), PROJECT_PATH):
            return _message(404, "404 Project Not Found")
        return None

    async def _create(self, request: web.Request) -> web.Response:
        if (refused := await self._enter(request, "create")) is not None:
            return refused
        if request.content_type != "application/json":
            return web.json_response({"error": "ref is missing"}, status=400)
        body = await request.json()
        pairs = body.get("variables", [])
        if not isinstance(pairs, list) or not all(
            isinstance(p, dict) and isinstance(p.get("key"), str) and "value" in p for p in pairs
        ):
            return web.json_response({"error": "variables is invalid"}, status=400)
        return self._pipeline(body.get("ref"), {p["key"]: str(p["value"]) for p in pairs}, "api")

    async def _trigger(self, request: web.Request) -> web.Response:
        if (refused := await self._enter(request, "trigger", token=False)) is not None:
            return refused
        form = await request.post()
        if form.get("token") != TRIGGER_TOKEN:
            return _message(404, "404 Not Found")
        found = {
            str(key)[len("variables[") : -1]: str(value)
            for key, value in form.items()
            if str(key).startswith("variables[") and str(key).endswith("]")
        }
        return self._pipeline(form.get("ref"), found, "trigger")

    def _pipeline(self, ref: Any, variables: dict[str, str], source: str) -> web.Response:
        if not ref:
            return web.json_response({"error": "ref is missing"}, status=400)
        if ref not in self.branches:
            return _message(400, {"base": ["Reference not found"]})
        pid = next(self._ids)
        self.pipelines[pid] = {
            "id": pid,
            "iid": pid - 1000,
            "project_id": PROJECT_ID,
            "sha": "a91957a858320c0e17f3a0eca7cfacbff50ea29a",
            "ref": ref,
            "status": "created",
            "source": source,
            "created_at": "2026-01-05T03:00:00.000Z",
            "updated_at": "2026-01-05T03:00:00.000Z",
            "started_at": None,
            "finished_at": None,
            "web_url": f"{self.base_url}/{PROJECT_PATH}/-/pipelines/{pid}",
            "user": {"id": 7, "username": "tocsin-bot", "name": "Tocsin"},
        }
        self.variables[pid] = variables
        self.jobs[pid] = []
        return web.json_response(self.pipelines[pid], status=201)

    def _found(self, request: web.Request) -> Json | None:
        return self.pipelines.get(int(request.match_info["pid"]))

    async def _get(self, request: web.Request) -> web.Response:
        if (refused := await self._enter(request, "get")) is not None:
            return refused
        pipeline = self._found(request)
        return web.json_response(pipeline) if pipeline else _message(404, "404 Not found")

    async def _list(self, request: web.Request) -> web.Response:
        """``GET …/pipelines`` with ``ref``, ``order_by=id``, ``sort`` and ``per_page``."""
        if (refused := await self._enter(request, "list")) is not None:
            return refused
        ref = request.query.get("ref")
        found = [p for p in self.pipelines.values() if ref is None or p["ref"] == ref]
        found.sort(key=lambda p: p["id"], reverse=request.query.get("sort", "desc") == "desc")
        return web.json_response(found[: int(request.query.get("per_page", "20"))])

    async def _variables(self, request: web.Request) -> web.Response:
        if (refused := await self._enter(request, "variables")) is not None:
            return refused
        pipeline = self._found(request)
        if pipeline is None:
            return _message(404, "404 Not found")
        pairs = self.variables[pipeline["id"]].items()
        return web.json_response(
            [{"variable_type": "env_var", "key": k, "value": v} for k, v in pairs]
        )

    async def _jobs(self, request: web.Request) -> web.Response:
        if (refused := await self._enter(request, "jobs")) is not None:
            return refused
        pipeline = self._found(request)
        if pipeline is None:
            return _message(404, "404 Not found")
        scopes = request.query.getall("scope[]", [])
        jobs = [job for job in self.jobs[pipeline["id"]] if not scopes or job["status"] in scopes]
        return web.json_response(jobs)

    async def _cancel(self, request: web.Request) -> web.Response:
        if (refused := await self._enter(request, "cancel")) is not None:
            return refused
        pipeline = self._found(request)
        if pipeline is None:
            return _message(404, "404 Not found")
        if pipeline["status"] not in ENDED:
            self.set_status(pipeline["id"], "canceled")
            for job in self.jobs[pipeline["id"]]:
                if job["status"] not in ENDED:
                    job["status"] = "canceled"
        return web.json_response(pipeline)
