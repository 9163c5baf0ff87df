"""Argo CD: set the version on an Application, sync it, follow the operation and the health.

```yaml
deploy:
  backends:
    argocd-prod: {kind: argocd, url: https://argocd.example.com, token: "${ARGOCD_TOKEN}"}
services:
  orders:
    deploy:
      prod: {backend: argocd-prod, app: orders-prod, parameter: "helm:image.tag"}
```

- deploy: ``GET /api/v1/applications/{app}``; a JSON merge ``PATCH`` of ``spec.source`` when
  the version differs (see `argocd_spec`); ``POST …/sync`` with ``prune: false`` and our run id
  in ``infos`` (which makes `start` idempotent). A dry run patches nothing and asks Argo CD for
  a dry-run sync of the spec as it is; the card says what would have been set.
- rollback: the newest ``status.history`` entry that ran the target version is rolled back to
  (``POST …/rollback``). Argo CD refuses that while auto-sync is on (argo-cd#2441), so auto-sync
  is turned off first and stays off: the card says so, and the annotation
  ``tocsin.dev/auto-sync-paused`` on the Application keeps what it was. Without a matching entry the
  target version is deployed as above.
- status: see `argocd_status`. cancel: ``DELETE …/operation`` (terminate-op).

The token (a project or account token) needs get, update and sync on the application.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from adapters.deploy import argocd_spec as spec
from adapters.deploy.argocd_settings import ArgoCdSettings, ArgoCdTarget
from adapters.deploy.argocd_status import RUN_INFO, busy, interpret, requested_by, started_at
from adapters.deploy.http_common import Json, json_body, make_client, raise_retryable, send
from adapters.deploy.settings_common import entry_points, parse_target
from bot.clock import Clock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import BackendCapabilities, DeployRequest, Phase, RunRef, RunStatus

PAUSED = "tocsin.dev/auto-sync-paused"
"""The annotation that keeps the auto-sync policy Tocsin turned off for a rollback."""
BUSY_RETRY = 30.0


class ArgoCdBackend:
    kind = "argocd"
    capabilities = BackendCapabilities(dry_run=True, cancel=True, native_rollback=True)

    def __init__(self, name: str, settings: ArgoCdSettings, *, clock: Clock) -> None:
        self.name = name
        self._settings = settings
        self._clock = clock
        self._client = make_client(
            settings,
            base_url=settings.url,
            headers={
                "Authorization": f"Bearer {settings.token.get_secret_value()}",
                "Accept": "application/json",
            },
        )

    async def start(self, request: DeployRequest) -> RunRef:
        target = _target(request.target)
        app = await self._get(target)
        data = {
            "app": target.app,
            "app_namespace": target.app_namespace,
            "run": request.run_id,
            "action": request.action,
            "dry_run": request.dry_run,
            "started": self._clock.now().isoformat(),
            "before": started_at(app),
        }
        if requested_by(app, request.run_id):  # a retried start: the sync is already ours
            return self._ref(target, request, mode="sync", **data)
        parameter = spec.parse_parameter(target.parameter)
        if request.action == "rollback":
            entry = spec.history_entry(app, parameter, request.version)
            if entry is not None:
                return await self._rollback(app, entry, target, request, data)
        return await self._sync(app, parameter, target, request, data)

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        if ref.data.get("noop"):
            return RunStatus(Phase.SUCCEEDED, str(ref.data.get("plan", "")), url=ref.url)
        target = _followed(ref, request)
        return interpret(await self._get(target), ref.data, ref.url)

    async def cancel(self, ref: RunRef, request: DeployRequest) -> None:
        if ref.data.get("noop"):
            return
        target = _followed(ref, request)
        response = await self._send(
            "DELETE", f"{_path(target)}/operation", params=_ns_query(target)
        )
        if response.status_code == 400 and "no operation" in _said(response).lower():
            return  # it ended already
        _check(response, "terminating the operation of", target)

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        return None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _sync(
        self,
        app: Json,
        parameter: spec.Parameter,
        target: ArgoCdTarget,
        request: DeployRequest,
        data: Json,
    ) -> RunRef:
        try:
            source = spec.single_source(app)
        except ValueError as exc:
            raise PermanentDelivery(f"Argo CD application {target.app!r} {exc}") from None
        current = spec.version_in(source, parameter)
        change = current != request.version
        data["plan"] = _plan(parameter, current, request.version)
        if change and not request.dry_run:
            patch = {"spec": {"source": spec.source_patch(source, parameter, request.version)}}
            app = await self._patch(target, patch, "setting the version of")
            source = spec.single_source(app)
        body: Json = {
            "name": target.app,
            "revision": source.get("targetRevision", ""),
            "prune": False,
            "dryRun": request.dry_run,
            "infos": [{"name": RUN_INFO, "value": request.run_id}],
        }
        response = await self._send("POST", f"{_path(target)}/sync", json=_ns_body(target, body))
        automated = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
        if _is_busy(response) and automated is not None and change and not request.dry_run:
            data["run"] = None  # auto-sync took the change: follow the next operation
        else:
            _check(response, "starting a sync of", target)
        return self._ref(target, request, mode="sync", **data)

    async def _rollback(
        self, app: Json, entry: Json, target: ArgoCdTarget, request: DeployRequest, data: Json
    ) -> RunRef:
        if busy(app):
            raise RetryableDelivery(
                f"Argo CD is running an operation on application {target.app!r}; "
                "the rollback waits for it to end (or cancel it)",
                retry_after=BUSY_RETRY,
            )
        history_id = int(entry["id"])
        revision = str(entry.get("revision", ""))[:12]
        data.update(mode="rollback", history_id=history_id)
        data["plan"] = f"roll back to history #{history_id} ({revision or 'no revision'})"
        automated = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
        if request.dry_run and automated is not None:
            plan = f"dry run: would turn auto-sync off and {data['plan']}"
            return self._ref(target, request, noop=True, **{**data, "plan": plan})
        if automated is not None:
            note = json.dumps({"run": request.run_id, "automated": automated})
            pause = {
                "metadata": {"annotations": {PAUSED: note}},
                "spec": {"syncPolicy": {"automated": None}},
            }
            await self._patch(target, pause, "pausing auto-sync of")
            data["auto_sync_paused"] = automated
        else:
            data["auto_sync_paused"] = _paused_by(app, request.run_id)
        body = {"name": target.app, "id": history_id, "dryRun": request.dry_run, "prune": False}
        response = await self._send(
            "POST", f"{_path(target)}/rollback", json=_ns_body(target, body)
        )
        _check(response, "rolling back", target)
        return self._ref(target, request, **data)

    def _ref(self, target: ArgoCdTarget, request: DeployRequest, **data: Any) -> RunRef:
        page = f"{target.app_namespace}/{target.app}" if target.app_namespace else target.app
        return RunRef(request.run_id, f"{self._settings.url}/applications/{page}", data)

    async def _get(self, target: ArgoCdTarget) -> Json:
        response = await self._send("GET", _path(target), params=_ns_query(target))
        _check(response, "reading", target)
        app = json_body(response)
        project = (app.get("spec") or {}).get("project")
        if target.project is not None and project != target.project:
            raise PermanentDelivery(
                f"Argo CD application {target.app!r} belongs to project {project!r}, "
                f"not {target.project!r} as configured"
            )
        return app

    async def _patch(self, target: ArgoCdTarget, patch: Json, what: str) -> Json:
        body = {"name": target.app, "patch": json.dumps(patch), "patchType": "merge"}
        response = await self._send("PATCH", _path(target), json=_ns_body(target, body))
        _check(response, what, target)
        return json_body(response)

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await send(self._client, method, path, f"Argo CD ({method} {path})", **kwargs)


def _target(raw: dict[str, Any]) -> ArgoCdTarget:
    return parse_target(ArgoCdTarget, raw, "Argo CD target settings")


def _followed(ref: RunRef, request: DeployRequest) -> ArgoCdTarget:
    """The application the run was started on (the RunRef outlives config changes)."""
    if ref.data.get("app"):
        return ArgoCdTarget.model_construct(
            app=ref.data["app"],
            parameter="revision",
            project=None,
            app_namespace=ref.data.get("app_namespace"),
        )
    return _target(request.target)


def _path(target: ArgoCdTarget) -> str:
    return f"/api/v1/applications/{quote(target.app, safe='')}"


def _ns_query(target: ArgoCdTarget) -> dict[str, str]:
    return {"appNamespace": target.app_namespace} if target.app_namespace else {}


def _ns_body(target: ArgoCdTarget, body: Json) -> Json:
    return {**body, "appNamespace": target.app_namespace} if target.app_namespace else body


def _plan(parameter: spec.Parameter, current: str | None, version: str) -> str:
    if current == version:
        return f"keep {parameter} at {version} (already set)"
    return f"set {parameter} from {current or '(unset)'} to {version}"


def _paused_by(app: Json, run_id: str) -> Any:
    """The auto-sync policy this run paused before (a retried rollback), else None."""
    note = ((app.get("metadata") or {}).get("annotations") or {}).get(PAUSED)
    try:
        paused = json.loads(note) if note else {}
    except ValueError:
        return None
    return paused.get("automated") if paused.get("run") == run_id else None


def _said(response: httpx.Response) -> str:
    body = json_body(response)
    return str(body.get("message") or body.get("error") or response.reason_phrase)


def _is_busy(response: httpx.Response) -> bool:
    return response.status_code == 400 and "another operation" in _said(response)


def _check(response: httpx.Response, what: str, target: ArgoCdTarget) -> None:
    code = response.status_code
    if code < 300:
        return
    where = f"{what} application {target.app!r}"
    said = _said(response)
    raise_retryable(response, f"Argo CD answered {code} {where}")
    if _is_busy(response):
        raise RetryableDelivery(
            f"Argo CD is running another operation; {where} waits for it to end",
            retry_after=BUSY_RETRY,
        )
    if code == 401:
        raise PermanentDelivery(f"Argo CD rejected the token (401) {where}: {said}")
    if code == 403:
        raise PermanentDelivery(
            f"Argo CD denied {where} (403: {said}); it says so as well when the application "
            "does not exist, so check the name and the token's RBAC"
        )
    if code == 404:
        raise PermanentDelivery(f"Argo CD found nothing (404) {where}: {said}")
    raise PermanentDelivery(f"Argo CD refused {where} ({code}: {said})")


validate, validate_target, create = entry_points(ArgoCdSettings, ArgoCdTarget, ArgoCdBackend)
