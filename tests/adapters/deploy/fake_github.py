"""A local fake of GitHub's Actions REST API (workflow dispatch and runs) on 127.0.0.1.

It checks the bearer token (401 "Bad credentials") and the User-Agent (403 without one), the
dispatch body like GitHub's schema validation (422 ``"x" is not a permitted key``, a missing or
unknown ref, inputs the workflow does not declare or a required one left out), and answers a
dispatch in one of three styles (`mode`): ``details`` — 200 with ``workflow_run_id``,
``run_url`` and ``html_url`` when ``return_run_details`` is true (github.com since 2026-02),
``classic`` — 204 always, ``legacy`` — an older GHES that refuses the new key with a 422.

Runs are titled from the workflow's ``run-name`` (a format string over the inputs), show in
listings only after `list_delay` listings (GitHub's lag), and move when a test calls
`progress` or `complete`; cancelling completes them as ``cancelled``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from tests.fake_http import FakeHttpServer

Json = dict[str, Any]
GITHUB_TOKEN = "github_pat_11TOCSIN0123456789abcdef"
REPO = "acme/orders"
DOCS = "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event"


@dataclass
class Workflow:
    id: int
    path: str
    name: str = "Deploy"
    inputs: dict[str, bool] = field(default_factory=dict)
    """Declared inputs: name → required."""
    run_name: str | None = "deploy {service} {version} ({run_id})"


def _answer(status: int, message: str, headers: Json | None = None) -> web.Response:
    body = {"message": message, "documentation_url": DOCS, "status": str(status)}
    return web.json_response(body, status=status, headers=headers)


@dataclass
class FakeGitHub(FakeHttpServer):
    mode: Literal["details", "classic", "legacy"] = "details"
    list_delay: int = 0
    created_at: str = "2026-01-05T03:00:01Z"
    branches: set[str] = field(default_factory=lambda: {"main", "release"})
    workflows: list[Workflow] = field(default_factory=list)
    runs: dict[int, Json] = field(default_factory=dict)
    dispatches: list[Json] = field(default_factory=list)
    listings: int = 0
    failures: dict[str, list[web.Response]] = field(default_factory=dict)
    _hidden: dict[int, int] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9_100_000_001))
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(57))

    def routes(self, app: web.Application) -> None:
        base = "/repos/{owner}/{repo}/actions"
        app.router.add_post(base + "/workflows/{wf}/dispatches", self._dispatch)
        app.router.add_get(base + "/workflows/{wf}/runs", self._list)
        app.router.add_get(base + "/runs/{id}", self._get)
        app.router.add_post(base + "/runs/{id}/cancel", self._cancel)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- the test's side -----------------------------------------------------------------

    def add_workflow(self, path: str = "deploy.yml", **kwargs: Any) -> Workflow:
        declared = {name: False for name in ("action", "service", "environment", "version")}
        kwargs.setdefault("inputs", {**declared, "run_id": True, "dry_run": False})
        workflow = Workflow(id=161335 + len(self.workflows), path=path, **kwargs)
        self.workflows.append(workflow)
        return workflow

    def progress(self, run_id: int, status: str) -> None:
        self.runs[run_id].update(status=status, updated_at="2026-01-05T03:01:00Z")

    def complete(self, run_id: int, conclusion: str) -> None:
        self.runs[run_id].update(
            status="completed", conclusion=conclusion, updated_at="2026-01-05T03:09:00Z"
        )

    def fail(self, route: str, status: int, message: str, headers: Json | None = None) -> None:
        """The next call to `route` (dispatch, list, get, cancel) gets this answer."""
        self.failures.setdefault(route, []).append(_answer(status, message, headers))

    # --- the server's side ---------------------------------------------------------------

    async def _enter(self, request: web.Request, route: str) -> web.Response | None:
        if route in self.held:
            await self.held[route].wait()
        if not request.headers.get("User-Agent"):
            return _answer(403, "Request forbidden by administrative rules.")
        if request.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            return _answer(401, "Bad credentials")
        if self.failures.get(route):
            return self.failures[route].pop(0)
        info = request.match_info
        if f"{info['owner']}/{info['repo']}" != REPO:
            return _answer(404, "Not Found")
        return None

    def _workflow(self, request: web.Request) -> Workflow | None:
        key = request.match_info["wf"]
        return next((w for w in self.workflows if key in (w.path, str(w.id))), None)

    async def _dispatch(self, request: web.Request) -> web.Response:
        if (refused := await self._enter(request, "dispatch")) is not None:
            return refused
        workflow = self._workflow(request)
        if workflow is None:
            return _answer(404, "Not Found")
        try:
            body = json.loads(await request.text())
        except ValueError:
            return _answer(400, "Problems parsing JSON")
        allowed = {"ref", "inputs"} | ({"return_run_details"} if self.mode != "legacy" else set())
        for key in body:
            if key not in allowed:
                return _answer(422, f'Invalid request.\n\n"{key}" is not a permitted key.')
        if "ref" not in body:
            return _answer(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
        if body["ref"] not in self.branches:
            return _answer(422, f"No ref found for: {body['ref']}")
        inputs = body.get("inputs") or {}
        unexpected = [name for name in inputs if name not in workflow.inputs]
        if unexpected:
            return _answer(422, f"Unexpected inputs provided: {json.dumps(unexpected)}")
        for name, required in workflow.inputs.items():
            if required and name not in inputs:
                return _answer(422, f"Required input '{name}' not provided")
        self.dispatches.append(body)
        run = self._new_run(workflow, body["ref"], {k: str(v) for k, v in inputs.items()})
        if self.mode == "details" and body.get("return_run_details"):
            details = {"workflow_run_id": run["id"], "run_url": run["url"]}
            return web.json_response({**details, "html_url": run["html_url"]})
        return web.Response(status=204)

    def _new_run(self, workflow: Workflow, ref: str, inputs: dict[str, str]) -> Json:
        run_id = next(self._ids)
        title = workflow.run_name.format_map(inputs) if workflow.run_name else workflow.name
        self.runs[run_id] = {
            "id": run_id,
            "name": workflow.name,
            "display_title": title,
            "run_number": next(self._numbers),
            "run_attempt": 1,
            "event": "workflow_dispatch",
            "status": "queued",
            "conclusion": None,
            "workflow_id": workflow.id,
            "head_branch": ref,
            "head_sha": "009b8a3a9ccbb128af87f9b1c0f4c62e8a304f6d",
            "path": f".github/workflows/{workflow.path}",
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "url": f"{self.base_url}/repos/{REPO}/actions/runs/{run_id}",
            "html_url": f"{self.base_url}/{REPO}/actions/runs/{run_id}",
        }
        self._hidden[run_id] = self.list_delay
        return self.runs[run_id]

    async def _list(self, request: web.Request) -> web.Response:
        if (refused := await self._enter(request, "list")) is not None:
            return refused
        workflow = self._workflow(request)
        if workflow is None:
            return _answer(404, "Not Found")
        self.listings += 1
        created = request.query.get("created", "")
        since = created.removeprefix(">=") if created.startswith(">=") else ""
        event = request.query.get("event")
        shown = []
        for run_id, run in sorted(self.runs.items(), reverse=True):
            if self._hidden.get(run_id, 0) > 0:
                self._hidden[run_id] -= 1
                continue
            if run["workflow_id"] != workflow.id or (event and run["event"] != event):
                continue
            if run["created_at"] >= since:
                shown.append(run)
        return web.json_response({"total_count": len(shown), "workflow_runs": shown})

    async def _get(self, request: web.Request) -> web.Response:
        if (refused := await self._enter(request, "get")) is not None:
            return refused
        run = self.runs.get(int(request.match_info["id"]))
        return web.json_response(run) if run else _answer(404, "Not Found")

    async def _cancel(self, request: web.Request) -> web.Response:
        if (refused := await self._enter(request, "cancel")) is not None:
            return refused
        run = self.runs.get(int(request.match_info["id"]))
        if run is None:
            return _answer(404, "Not Found")
        if run["status"] == "completed":
            return _answer(409, "Cannot cancel a workflow run that is completed.")
        self.complete(run["id"], "cancelled")
        return web.json_response({}, status=202)
