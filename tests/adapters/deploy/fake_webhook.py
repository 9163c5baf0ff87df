"""A local fake deploy receiver for the webhook backend on 127.0.0.1, written to the contract in
`adapters.deploy.webhook`'s docstring.

It checks what a careful receiver checks: the ``X-Tocsin-Signature`` HMAC of the raw body (on
GET and DELETE too, over the empty body), a numeric ``X-Tocsin-Timestamp``, a JSON body with
every field, and an ``Idempotency-Key`` equal to the run id. A repeated key gets the first
answer again, whatever the body. ``mode`` picks a synchronous answer (200 with the result) or
an asynchronous one (202 with a ``status_url`` a test moves on with `advance`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from tests.fake_http import FakeHttpServer

SECRET = "hook-secret-0123456789abcdef"
FIELDS = (
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
)


@dataclass
class Run:
    body: dict[str, Any]
    status: str = "running"
    message: str = "started"
    progress: float | None = None
    deletes: int = 0


@dataclass
class FakeWebhook(FakeHttpServer):
    mode: Literal["sync", "async"] = "async"
    result: dict[str, Any] = field(
        default_factory=lambda: {"status": "succeeded", "message": "deployed to 3 hosts"}
    )
    """The answer in sync mode."""
    relative: bool = False
    """Answer with a relative ``status_url``."""
    runs: dict[str, Run] = field(default_factory=dict)
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    """The first answer per idempotency key."""
    posts: int = 0
    failures: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    status_override: dict[str, Any] | None = None

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hooks/deploy", self._deploy)
        app.router.add_get("/runs/{run_id}", self._status)
        app.router.add_delete("/runs/{run_id}", self._cancel)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hook_url(self) -> str:
        return f"{self.base_url}/hooks/deploy"

    def advance(
        self, run_id: str, status: str, message: str = "", progress: float | None = None
    ) -> None:
        run = self.runs[run_id]
        run.status, run.message, run.progress = status, message, progress

    def fail_next(self, status: int, message: str = "unavailable", **headers: str) -> None:
        self.failures.append((status, message, headers))

    async def _checked(self, request: web.Request) -> bytes | web.Response:
        """The raw body when the request is signed right, else the answer to send."""
        if "hook" in self.held:
            await self.held["hook"].wait()
        if self.failures:
            status, message, headers = self.failures.pop(0)
            return web.json_response({"message": message}, status=status, headers=headers)
        body = await request.read()
        timestamp = request.headers.get("X-Tocsin-Timestamp", "")
        if not timestamp.isdigit():
            return web.json_response({"error": "missing timestamp"}, status=401)
        signed = timestamp.encode() + b"." + body
        expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        given = request.headers.get("X-Tocsin-Signature", "")
        if not hmac.compare_digest(given, expected):
            return web.json_response({"error": "bad signature"}, status=401)
        return body

    async def _deploy(self, request: web.Request) -> web.Response:
        checked = await self._checked(request)
        if isinstance(checked, web.Response):
            return checked
        if request.content_type != "application/json":
            return web.json_response({"error": "expected application/json"}, status=415)
        key = request.headers.get("Idempotency-Key", "")
        if key in self.answers:
            status, answer = self.answers[key]
            return web.json_response(answer, status=status)
        body = json.loads(checked)
        missing = [name for name in FIELDS if name not in body]
        if missing:
            return web.json_response({"message": f"missing {', '.join(missing)}"}, status=422)
        if key != body["run_id"]:
            return web.json_response({"message": "Idempotency-Key must be the run id"}, status=400)
        self.posts += 1
        if self.mode == "sync":
            status, answer = 200, dict(self.result)
        else:
            self.runs[key] = Run(body)
            path = f"/runs/{key}"
            answer = {
                "status_url": path if self.relative else f"{self.base_url}{path}",
                "url": f"https://deploys.example.com/runs/{key}",
            }
            status = 202
        self.answers[key] = (status, answer)
        return web.json_response(answer, status=status)

    async def _status(self, request: web.Request) -> web.Response:
        checked = await self._checked(request)
        if isinstance(checked, web.Response):
            return checked
        run = self.runs.get(request.match_info["run_id"])
        if run is None:
            return web.json_response({"error": "no such run"}, status=404)
        if self.status_override is not None:
            return web.json_response(self.status_override)
        answer: dict[str, Any] = {"status": run.status, "message": run.message}
        if run.progress is not None:
            answer["progress"] = run.progress
        return web.json_response(answer)

    async def _cancel(self, request: web.Request) -> web.Response:
        checked = await self._checked(request)
        if isinstance(checked, web.Response):
            return checked
        run = self.runs.get(request.match_info["run_id"])
        if run is None:
            return web.json_response({"error": "no such run"}, status=404)
        run.deletes += 1
        if run.status != "running":
            return web.json_response({"error": f"already {run.status}"}, status=409)
        run.status, run.message = "cancelled", "cancelled by Tocsin"
        return web.json_response({"status": "cancelled"}, status=202)
