"""A local fake of Argo CD's application API (``/api/v1/applications``) on 127.0.0.1.

It checks the bearer token and the JSON content type, keeps Applications with spec, status and
history, applies JSON merge patches like ``argocd app patch --type merge``, and answers like the
real server's grpc-gateway (``{"error", "code", "message"}``): 401 for a bad token, 403
"permission denied" for an unknown application, FailedPrecondition (400) for "another operation
is already in progress" and for a rollback while auto-sync is on (argo-cd#2441).

Operations do not move by themselves: a test plays the application controller with `begin`,
`finish` and `set_health`. With ``auto_sync_on_patch`` a patch of an auto-synced application
starts a sync at once, as the controller would, and our own sync request then finds it busy.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fake_http import FakeHttpServer

Json = dict[str, Any]
ARGO_TOKEN = "argocd-token-0123456789abcdef"
SHAS = [f"{n:x}" * 40 for n in range(1, 16)]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"error": message, "code": code, "message": message}, status=status)


@dataclass
class FakeArgoCd(FakeHttpServer):
    apps: dict[str, Json] = field(default_factory=dict)
    calls: list[tuple[str, str, Json]] = field(default_factory=list)
    """Accepted requests: method, application, JSON body (or query)."""
    failures: dict[str, list[web.Response]] = field(default_factory=dict)
    auto_sync_on_patch: bool = False
    _clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _shas: itertools.cycle[str] = field(default_factory=lambda: itertools.cycle(SHAS))

    def routes(self, app: web.Application) -> None:
        base = "/api/v1/applications/{name}"
        app.router.add_get(base, self._get)
        app.router.add_patch(base, self._patch)
        app.router.add_post(base + "/sync", self._sync)
        app.router.add_post(base + "/rollback", self._rollback)
        app.router.add_delete(base + "/operation", self._terminate)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- the test's side -----------------------------------------------------------------

    def add_app(
        self,
        name: str,
        *,
        source: Json,
        versions: tuple[Json, ...] = (),
        automated: bool = False,
        project: str = "default",
    ) -> Json:
        """An application whose history ran `versions` (sources) and now runs `source`."""
        history = []
        for index, old in enumerate((*versions, source)):
            when = self._now()
            history.append(
                {
                    "id": index,
                    "revision": next(self._shas),
                    "deployStartedAt": when,
                    "deployedAt": when,
                    "source": copy.deepcopy(old),
                }
            )
        self.apps[name] = {
            "metadata": {"name": name, "namespace": "argocd", "resourceVersion": "1"},
            "spec": {
                "project": project,
                "source": copy.deepcopy(source),
                "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
                "syncPolicy": {"automated": {"prune": True, "selfHeal": True}} if automated else {},
            },
            "status": {
                "sync": {"status": "Synced", "revision": history[-1]["revision"]},
                "health": {"status": "Healthy"},
                "history": history,
                "reconciledAt": self._now(),
                "operationState": {
                    "operation": {"sync": {"revision": history[-1]["revision"]}},
                    "phase": "Succeeded",
                    "message": "successfully synced (all tasks run)",
                    "startedAt": history[-1]["deployStartedAt"],
                    "finishedAt": history[-1]["deployedAt"],
                },
            },
        }
        return self.apps[name]

    def begin(self, name: str, message: str = "one or more tasks are running") -> None:
        """The controller picks up the requested operation."""
        app = self.apps[name]
        operation = app.pop("operation")
        app["status"]["operationState"] = {
            "operation": operation,
            "phase": "Running",
            "message": message,
            "startedAt": self._now(),
        }
        if not operation["sync"].get("dryRun"):
            app["status"]["health"] = {"status": "Progressing"}

    def finish(
        self,
        name: str,
        phase: str = "Succeeded",
        *,
        health: str | None = "Healthy",
        message: str | None = None,
        reconciled: bool = True,
    ) -> None:
        """The running operation ends; `health` is what the next reconcile finds."""
        app = self.apps[name]
        state = app["status"]["operationState"]
        sync = state["operation"]["sync"]
        done = {"Succeeded": "successfully synced (all tasks run)"}
        state.update(
            phase=phase,
            message=message or done.get(phase, "one or more objects failed to apply"),
            finishedAt=self._now(),
        )
        if phase == "Succeeded" and not sync.get("dryRun"):
            ran = copy.deepcopy(sync.get("source") or app["spec"]["source"])
            history = app["status"]["history"]
            revision = sync.get("revision") or next(self._shas)
            history.append(
                {
                    "id": history[-1]["id"] + 1 if history else 0,
                    "revision": revision,
                    "deployStartedAt": state["startedAt"],
                    "deployedAt": state["finishedAt"],
                    "source": ran,
                }
            )
            in_sync = ran == app["spec"]["source"]
            app["status"]["sync"] = {
                "status": "Synced" if in_sync else "OutOfSync",
                "revision": revision,
            }
        if reconciled and health is not None:
            self.set_health(name, health)

    def set_health(self, name: str, health: str, message: str = "") -> None:
        app = self.apps[name]
        app["status"]["health"] = {"status": health, **({"message": message} if message else {})}
        app["status"]["reconciledAt"] = self._now()

    def fail(self, route: str, status: int, message: str, *, headers: Json | None = None) -> None:
        """The next call to `route` (get, patch, sync, rollback, terminate) gets this answer."""
        body = {"error": message, "code": 14, "message": message}
        answer = web.json_response(body, status=status, headers=headers)
        self.failures.setdefault(route, []).append(answer)

    def calls_to(self, what: str) -> list[Json]:
        return [body for method, route, body in self.calls if route == what]

    # --- the server's side ---------------------------------------------------------------

    def _now(self) -> str:
        tick = next(self._clock)
        return f"2026-01-05T03:{tick // 60:02d}:{tick % 60:02d}Z"

    async def _enter(self, request: web.Request, route: str) -> tuple[Json, Json] | web.Response:
        """Auth, held calls, scripted failures, the application and the JSON body."""
        if route in self.held:
            await self.held[route].wait()
        if request.headers.get("Authorization") != f"Bearer {ARGO_TOKEN}":
            return _error(401, 16, "invalid session: token signature is invalid")
        if self.failures.get(route):
            return self.failures[route].pop(0)
        body: Json = {}
        if request.method in ("POST", "PATCH"):
            if request.content_type != "application/json":
                return _error(415, 3, f"unsupported content type {request.content_type}")
            body = await request.json()
            if body.get("name", request.match_info["name"]) != request.match_info["name"]:
                return _error(400, 3, "name in the body does not match the URL")
        app = self.apps.get(request.match_info["name"])
        if app is None:
            return _error(403, 7, "permission denied")
        if request.method != "GET":
            self.calls.append((request.method, route, body or dict(request.query)))
        return app, body

    async def _get(self, request: web.Request) -> web.Response:
        entered = await self._enter(request, "get")
        if isinstance(entered, web.Response):
            return entered
        return web.json_response(entered[0])

    async def _patch(self, request: web.Request) -> web.Response:
        entered = await self._enter(request, "patch")
        if isinstance(entered, web.Response):
            return entered
        app, body = entered
        if body.get("patchType") != "merge":
            return _error(400, 3, f"Patch type '{body.get('patchType')}' is not supported")
        patched = merge_patch(app, json.loads(body["patch"]))
        spec_changed = patched["spec"].get("source") != app["spec"].get("source")
        app.clear()
        app.update(patched)
        app["metadata"]["resourceVersion"] = str(int(app["metadata"]["resourceVersion"]) + 1)
        if spec_changed:
            app["status"]["sync"]["status"] = "OutOfSync"
            if self.auto_sync_on_patch and app["spec"].get("syncPolicy", {}).get("automated"):
                app["operation"] = {"sync": {"revision": app["spec"]["source"]["targetRevision"]}}
                self.begin(app["metadata"]["name"], "auto-sync started")
        return web.json_response(app)

    async def _sync(self, request: web.Request) -> web.Response:
        entered = await self._enter(request, "sync")
        if isinstance(entered, web.Response):
            return entered
        app, body = entered
        if self._busy(app):
            return _error(400, 9, "another operation is already in progress")
        target = app["spec"]["source"].get("targetRevision", "HEAD")
        revision = body.get("revision", "")
        if app["spec"].get("syncPolicy", {}).get("automated") and revision not in ("", target):
            return _error(400, 9, f"Cannot sync to {revision}: auto-sync currently set to {target}")
        app["operation"] = {
            "sync": {
                "revision": revision or target,
                "prune": bool(body.get("prune")),
                "dryRun": bool(body.get("dryRun")),
            },
            "initiatedBy": {"username": "tocsin"},
            **({"info": body["infos"]} if body.get("infos") else {}),
        }
        return web.json_response(app)

    async def _rollback(self, request: web.Request) -> web.Response:
        entered = await self._enter(request, "rollback")
        if isinstance(entered, web.Response):
            return entered
        app, body = entered
        if app["spec"].get("syncPolicy", {}).get("automated"):
            return _error(400, 9, "rollback cannot be initiated when auto-sync is enabled")
        entry = next((h for h in app["status"]["history"] if h["id"] == body.get("id")), None)
        if entry is None:
            name = app["metadata"]["name"]
            return _error(
                400, 3, f"application {name} does not have deployment with id {body.get('id')}"
            )
        if self._busy(app):
            return _error(400, 9, "another operation is already in progress")
        app["operation"] = {
            "sync": {
                "revision": entry["revision"],
                "source": copy.deepcopy(entry["source"]),
                "prune": bool(body.get("prune")),
                "dryRun": bool(body.get("dryRun")),
            },
            "initiatedBy": {"username": "tocsin"},
        }
        return web.json_response(app)

    async def _terminate(self, request: web.Request) -> web.Response:
        entered = await self._enter(request, "terminate")
        if isinstance(entered, web.Response):
            return entered
        app = entered[0]
        if not self._busy(app):
            return _error(400, 3, "Unable to terminate operation. No operation is in progress")
        if "operation" in app:  # not picked up yet: the controller starts and stops it
            self.begin(app["metadata"]["name"])
        app["status"]["operationState"]["phase"] = "Terminating"
        return web.json_response({})

    @staticmethod
    def _busy(app: Json) -> bool:
        phase = app["status"].get("operationState", {}).get("phase")
        return "operation" in app or phase in ("Running", "Terminating")
