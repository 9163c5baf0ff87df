"""GitLab CI: run a pipeline with Tocsin's variables, follow it, cancel it.

```yaml
deploy:
  backends:
    gitlab: {kind: gitlab, url: https://gitlab.example.com, token: "${GITLAB_TOKEN}"}
services:
  orders:
    deploy:
      prod: {backend: gitlab, project: shop/orders, ref: main, variables: {DEPLOY_TARGET: k8s}}
```

- start: ``POST /api/v4/projects/:id/pipeline`` with ``{ref, variables: [{key, value}]}`` (the
  token needs the ``api`` scope and may run pipelines on the ref), or, when ``trigger_token`` is
  set, ``POST …/trigger/pipeline`` with form fields (the pipeline then runs as the trigger's
  owner). The variables: ``TOCSIN_ACTION`` (deploy/rollback), ``TOCSIN_SERVICE``,
  ``TOCSIN_ENVIRONMENT``, ``TOCSIN_VERSION``, ``TOCSIN_PREVIOUS_VERSION``, ``TOCSIN_RUN_ID``,
  ``TOCSIN_DRY_RUN`` (true/false: the pipeline decides what a dry run is), ``TOCSIN_STAGE``
  (``canary``: only the canary, at ``TOCSIN_CANARY_WEIGHT`` percent; a rollback takes it away),
  each command parameter as ``TOCSIN_PARAM_<KEY>``, and the target's fixed ``variables``.
- status: ``GET …/pipelines/:pid``; a failed pipeline names its failed jobs, a ``manual`` one the
  jobs that wait for someone to press play. cancel: ``POST …/pipelines/:pid/cancel``.

GitLab takes no idempotency key, so `start` keeps its own: a run id started before returns its
pipeline, and a start retried after a lost answer (a timeout, a 5xx) first looks for the
pipeline the lost attempt may have made — among the ref's newest pipelines, the one whose
``TOCSIN_RUN_ID`` variable is the run's — before running another. That memory is the process's:
a replica that dies between its call and recording the answer can still leave a second pipeline
to the one that takes its run over, so give the deploy job a ``resource_group`` too.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any
from urllib.parse import quote

import httpx

from adapters.deploy.gitlab_settings import KEY, GitLabSettings, GitLabTarget
from adapters.deploy.http_common import json_body, make_client, raise_retryable, send
from adapters.deploy.settings_common import entry_points, parse_target
from bot.clock import Clock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import BackendCapabilities, DeployRequest, Phase, RunRef, RunStatus

RUNNING = {
    "created": "created",
    "waiting_for_resource": "waiting for a resource group",
    "preparing": "preparing",
    "pending": "pending (waiting for a runner)",
    "running": "running",
    "scheduled": "scheduled",
    "manual": "waiting for a manual job",
    "canceling": "cancelling",
}
REMEMBERED = 1000
"""Run ids whose pipelines a backend remembers (the newest)."""
LOOKED_AT = 20
"""How many of the ref's newest pipelines a retried start looks through for its lost one."""
ENDED = {
    "success": Phase.SUCCEEDED,
    "failed": Phase.FAILED,
    "canceled": Phase.CANCELLED,
    "skipped": Phase.CANCELLED,
}


def variables(request: DeployRequest, target: GitLabTarget) -> dict[str, str]:
    """The pipeline's variables: the target's, the command's parameters, then Tocsin's."""
    params: dict[str, str] = {}
    for key, value in request.params.items():
        name = "TOCSIN_PARAM_" + key.upper().replace("-", "_").replace(".", "_")
        if not KEY.fullmatch(name):
            raise PermanentDelivery(f"parameter {key!r} cannot be a GitLab variable name")
        params[name] = value
    return {
        **target.variables,
        **params,
        "TOCSIN_ACTION": request.action,
        "TOCSIN_SERVICE": request.service,
        "TOCSIN_ENVIRONMENT": request.environment,
        "TOCSIN_VERSION": request.version,
        "TOCSIN_PREVIOUS_VERSION": request.previous,
        "TOCSIN_RUN_ID": request.run_id,
        "TOCSIN_DRY_RUN": "true" if request.dry_run else "false",
        "TOCSIN_STAGE": request.stage,
        "TOCSIN_CANARY_WEIGHT": str(request.canary_weight),
    }


class GitLabBackend:
    kind = "gitlab"
    capabilities = BackendCapabilities(dry_run=False, cancel=True, canary=True)

    def __init__(self, name: str, settings: GitLabSettings, *, clock: Clock) -> None:
        self.name = name
        self._settings = settings
        self._auth = {"PRIVATE-TOKEN": settings.token.get_secret_value()}
        self._client = make_client(
            settings, base_url=f"{settings.url}/api/v4", headers={"Accept": "application/json"}
        )
        self._started: OrderedDict[str, RunRef] = OrderedDict()
        self._unanswered: set[str] = set()

    async def start(self, request: DeployRequest) -> RunRef:
        """Run the pipeline once per run id (see the module's docstring)."""
        run_id = request.run_id
        ref = self._started.get(run_id)
        if ref is None and run_id in self._unanswered:
            ref = await self._lost(request)
        if ref is None:
            try:
                ref = await self._create(request)
            except RetryableDelivery:
                self._unanswered.add(run_id)
                raise
        self._unanswered.discard(run_id)
        self._started[run_id] = ref
        while len(self._started) > REMEMBERED:
            self._started.popitem(last=False)
        return ref

    async def _lost(self, request: DeployRequest) -> RunRef | None:
        """The pipeline an unanswered start for this run made, if GitLab has it."""
        target = _target(request.target)
        project = _project(target.project)
        listed = await self._send(
            "GET",
            f"{project}/pipelines",
            params={"ref": target.ref, "order_by": "id", "sort": "desc", "per_page": LOOKED_AT},
            headers=self._auth,
        )
        _check(listed, f"listing the pipelines on {target.ref!r} of", target.project)
        for pipeline in _list(listed):
            found = await self._send(
                "GET", f"{project}/pipelines/{pipeline.get('id')}/variables", headers=self._auth
            )
            _check(found, "reading a pipeline's variables in", target.project)
            named = {str(v.get("key")): str(v.get("value")) for v in _list(found)}
            if named.get("TOCSIN_RUN_ID") == request.run_id:
                return _ref(pipeline, target)
        return None

    async def _create(self, request: DeployRequest) -> RunRef:
        target = _target(request.target)
        values = variables(request, target)
        project = _project(target.project)
        trigger = self._settings.trigger_token
        if trigger is not None:
            form = {"token": trigger.get_secret_value(), "ref": target.ref}
            form.update({f"variables[{key}]": value for key, value in values.items()})
            response = await self._send("POST", f"{project}/trigger/pipeline", data=form)
        else:
            body = {
                "ref": target.ref,
                "variables": [{"key": key, "value": value} for key, value in values.items()],
            }
            response = await self._send(
                "POST", f"{project}/pipeline", json=body, headers=self._auth
            )
        _check(response, f"starting a pipeline on {target.ref!r} of", target.project)
        pipeline = json_body(response)
        if "id" not in pipeline:
            raise RetryableDelivery(f"GitLab answered without a pipeline id for {target.project}")
        return _ref(pipeline, target)

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        project, pid = self._followed(ref, request)
        path = f"{_project(project)}/pipelines/{pid}"
        response = await self._send("GET", path, headers=self._auth)
        _check(response, f"reading pipeline #{pid} of", project)
        pipeline = json_body(response)
        state = str(pipeline.get("status", ""))
        url = str(pipeline.get("web_url") or ref.url)
        if state in RUNNING:
            said = f"pipeline #{pid} {RUNNING[state]}"
            if state == "manual":
                said += await self._jobs(path, "manual", project)
            return RunStatus(Phase.RUNNING, said, url=url)
        phase = ENDED.get(state)
        if phase is None:
            said = f"pipeline #{pid} {state or 'in an unknown state'}"
            return RunStatus(Phase.RUNNING, said, url=url)
        said = f"pipeline #{pid} {state}"
        if phase is Phase.FAILED:
            said += await self._jobs(path, "failed", project)
        return RunStatus(phase, said, url=url)

    async def cancel(self, ref: RunRef, request: DeployRequest) -> None:
        project, pid = self._followed(ref, request)
        response = await self._send(
            "POST", f"{_project(project)}/pipelines/{pid}/cancel", headers=self._auth
        )
        _check(response, f"cancelling pipeline #{pid} of", project)

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        return None

    async def aclose(self) -> None:
        await self._client.aclose()

    def _followed(self, ref: RunRef, request: DeployRequest) -> tuple[str, str]:
        project = ref.data.get("project") or _target(request.target).project
        return str(project), str(ref.data.get("pipeline") or ref.id)

    async def _jobs(self, path: str, scope: str, project: str) -> str:
        """`` (failed: deploy-prod, smoke)`` — the pipeline's jobs in `scope` ("" when none)."""
        response = await self._send(
            "GET", f"{path}/jobs", params={"scope[]": scope, "per_page": 100}, headers=self._auth
        )
        _check(response, f"listing the {scope} jobs of", project)
        try:
            jobs = response.json()
        except ValueError:
            return ""
        names = [str(job.get("name")) for job in jobs if isinstance(job, dict)]
        return f" ({scope}: {', '.join(dict.fromkeys(names))})" if names else ""

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        what = f"GitLab ({method} {_clean(path)})"
        return await send(self._client, method, path, what, **kwargs)


def _ref(pipeline: dict[str, Any], target: GitLabTarget) -> RunRef:
    data = {"project": target.project, "pipeline": pipeline["id"], "ref": target.ref}
    return RunRef(str(pipeline["id"]), str(pipeline.get("web_url", "")), data)


def _list(response: httpx.Response) -> list[dict[str, Any]]:
    """A JSON array answer's objects (an answer of another shape reads as empty)."""
    try:
        found = response.json()
    except ValueError:
        return []
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def _target(raw: dict[str, Any]) -> GitLabTarget:
    return parse_target(GitLabTarget, raw, "GitLab target settings")


def _project(project: str) -> str:
    return f"/projects/{quote(project, safe='')}"


def _clean(path: str) -> str:
    return path.replace("%2F", "/")


def _said(response: httpx.Response) -> str:
    """GitLab's error text: ``message`` (text or ``{field: [problems]}``) or ``error``."""
    body = json_body(response)
    message = body.get("message", body.get("error"))
    if isinstance(message, dict):
        parts = []
        for field, problems in message.items():
            listed = ", ".join(map(str, problems)) if isinstance(problems, list) else problems
            parts.append(str(listed) if field == "base" else f"{field} {listed}")
        return "; ".join(parts)
    return str(message) if message else response.reason_phrase


def _check(response: httpx.Response, what: str, project: str) -> None:
    code = response.status_code
    if code < 300:
        return
    where = f"{what} project {project!r}"
    said = _said(response)
    raise_retryable(response, f"GitLab answered {code} {where}")
    if code == 401:
        raise PermanentDelivery(f"GitLab rejected the token (401) {where}")
    if code == 403:
        raise PermanentDelivery(
            f"GitLab denied {where} (403: {said}); the token needs the api scope and the "
            "right to run pipelines on that ref"
        )
    if code == 404:
        raise PermanentDelivery(
            f"GitLab found nothing (404: {said}) {where}; check the project path, and that the "
            "token (or trigger token) can see it"
        )
    raise PermanentDelivery(f"GitLab refused {where} ({code}: {said})")


validate, validate_target, create = entry_points(GitLabSettings, GitLabTarget, GitLabBackend)
