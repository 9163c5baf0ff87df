"""GitHub Actions: dispatch a workflow with Tocsin's inputs, find its run, follow it, cancel it.

```yaml
deploy:
  backends:
    github: {kind: github, token: "${GITHUB_TOKEN}"}   # url: https://ghe.example.com/api/v3
services:
  orders:
    deploy:
      prod: {backend: github, repo: acme/orders, workflow: deploy.yml, ref: main}
```

The workflow must declare the inputs it is given, or GitHub refuses the dispatch (422):
``action``, ``service``, ``environment``, ``version``, ``run_id``, ``dry_run`` (sent only for a
dry run), each command parameter under its own name, and the target's fixed ``inputs``; and it
should name its runs after Tocsin's run id, ``run-name: deploy ${{ inputs.version }}
(${{ inputs.run_id }})``, which is how the run is found where GitHub does not say it.

- start: ``POST /repos/{repo}/actions/workflows/{workflow}/dispatches`` with ``ref``,
  ``inputs`` and ``return_run_details: true``: since February 2026 GitHub answers 200 with
  ``workflow_run_id``, ``run_url`` and ``html_url``. A server that does not know the key (older
  GitHub Enterprise Server: 400/422 naming it) is asked again without it, and a 204 answer sends
  us looking: ``GET …/workflows/{workflow}/runs?event=workflow_dispatch&created=>=…`` for the
  run titled with our run id, a few times; until it shows, the RunRef's id is
  ``pending:<run id>`` and `status` keeps looking, for ``run_lookup`` at most. The same lookup,
  before dispatching, makes a retried `start` find the run it already dispatched.
- status: ``GET /repos/{repo}/actions/runs/{id}`` (see `github_runs`).
- cancel: ``POST …/runs/{id}/cancel`` (202; 409 when it already ended).

The token (fine-grained: Actions read and write on the repository) goes as a bearer token.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from adapters.deploy.github_runs import find_run, interpret
from adapters.deploy.github_settings import RESERVED, GitHubSettings, GitHubTarget
from adapters.deploy.http_common import Json, json_body, make_client, retry_after, send
from adapters.deploy.settings_common import entry_points, parse_target
from bot.clock import Clock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import BackendCapabilities, DeployRequest, Phase, RunRef, RunStatus
from bot.settings.durations import format_duration

PENDING = "pending:"
SKEW = timedelta(minutes=2)
"""How far before our own clock's dispatch time a run may say it was created."""
RETRY_LOOKBACK = timedelta(days=1)


def workflow_inputs(request: DeployRequest, target: GitHubTarget) -> dict[str, str]:
    """The dispatch's inputs: the target's, the command's parameters, then Tocsin's."""
    for key in request.params:
        if key in RESERVED:
            raise PermanentDelivery(f"parameter {key!r} is an input Tocsin sets itself")
    inputs = {
        **target.inputs,
        **request.params,
        "action": request.action,
        "service": request.service,
        "environment": request.environment,
        "version": request.version,
        "run_id": request.run_id,
    }
    if request.dry_run:
        inputs["dry_run"] = "true"
    return inputs


class GitHubBackend:
    kind = "github"
    capabilities = BackendCapabilities(dry_run=False, cancel=True, canary=True)

    def __init__(self, name: str, settings: GitHubSettings, *, clock: Clock) -> None:
        self.name = name
        self._settings = settings
        self._clock = clock
        self._client = make_client(
            settings,
            base_url=settings.url,
            headers={
                "Authorization": f"Bearer {settings.token.get_secret_value()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "tocsin",
            },
        )

    async def start(self, request: DeployRequest) -> RunRef:
        target = _target(request.target)
        inputs = workflow_inputs(request, target)
        now = self._clock.now()
        data = {"repo": target.repo, "workflow": target.workflow, "run": request.run_id}
        data["dispatched"] = now.isoformat()
        earlier = await self._lookup(target, request.run_id, now - RETRY_LOOKBACK)
        if earlier is not None:  # a retried start: the run is there already
            return _ref(earlier, data)
        body: Json = {"ref": target.ref, "inputs": inputs, "return_run_details": True}
        path = f"{_workflow_path(target)}/dispatches"
        response = await self._send("POST", path, json=body)
        if response.status_code in (400, 422) and "return_run_details" in _said(response):
            del body["return_run_details"]  # an older GHES: the classic 204 dispatch
            response = await self._send("POST", path, json=body)
        self._check(response, "dispatching", target)
        details = json_body(response) if response.status_code == 200 else {}
        if details.get("workflow_run_id"):
            url = str(details.get("html_url", ""))
            return RunRef(str(details["workflow_run_id"]), url, data)
        for attempt in range(self._settings.lookup_attempts):
            if attempt:
                await asyncio.sleep(self._settings.lookup_interval.total_seconds())
            run = await self._lookup(target, request.run_id, now - SKEW)
            if run is not None:
                return _ref(run, data)
        return RunRef(
            PENDING + request.run_id, f"{_web(self._settings.url)}/{target.repo}/actions", data
        )

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        target = _followed(ref, request)
        if ref.id.startswith(PENDING):
            run = await self._pending(ref, target)
            if run is not None:
                return interpret(run)
            waited = self._clock.now() - _dispatched(ref)
            run_id = ref.id.removeprefix(PENDING)
            if waited > self._settings.run_lookup:
                return RunStatus(
                    Phase.FAILED,
                    f"no run of {target.workflow} titled {run_id} appeared within "
                    f"{format_duration(waited)} of the dispatch; the workflow must set "
                    "run-name to include ${{ inputs.run_id }}",
                    url=ref.url,
                )
            return RunStatus(
                Phase.RUNNING,
                f"dispatched {target.workflow}; looking for its run titled {run_id}",
                url=ref.url,
            )
        response = await self._send("GET", f"/repos/{target.repo}/actions/runs/{ref.id}")
        self._check(response, f"reading run {ref.id} of", target)
        return interpret(json_body(response))

    async def cancel(self, ref: RunRef, request: DeployRequest) -> None:
        target = _followed(ref, request)
        run_id = ref.id
        if ref.id.startswith(PENDING):
            run = await self._pending(ref, target)
            if run is None:
                raise RetryableDelivery(
                    f"the run of {target.workflow} in {target.repo} has not shown yet; "
                    "cancel again in a moment"
                )
            run_id = str(run["id"])
        path = f"/repos/{target.repo}/actions/runs/{run_id}/cancel"
        response = await self._send("POST", path)
        if response.status_code == 409:
            return  # "Cannot cancel a workflow run that is completed."
        self._check(response, f"cancelling run {run_id} of", target)

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        return None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _pending(self, ref: RunRef, target: GitHubTarget) -> Json | None:
        run_id = ref.id.removeprefix(PENDING)
        return await self._lookup(target, run_id, _dispatched(ref) - SKEW)

    async def _lookup(self, target: GitHubTarget, run_id: str, since: datetime) -> Json | None:
        created = since.astimezone(UTC).strftime(">=%Y-%m-%dT%H:%M:%SZ")
        params = {"event": "workflow_dispatch", "created": created, "per_page": 100}
        response = await self._send("GET", f"{_workflow_path(target)}/runs", params=params)
        self._check(response, "listing the runs of", target)
        return find_run(json_body(response), run_id)

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await send(self._client, method, path, f"GitHub ({method} {path})", **kwargs)

    def _check(self, response: httpx.Response, what: str, target: GitHubTarget) -> None:
        code = response.status_code
        if code < 300:
            return
        where = f"{what} workflow {target.workflow!r} in {target.repo}"
        said = _said(response)
        wait = _rate_limited(response, self._clock.now())
        if code == 429 or code >= 500 or (code == 403 and wait is not None):
            raise RetryableDelivery(f"GitHub answered {code} {where} ({said})", wait)
        if code == 401:
            raise PermanentDelivery(f"GitHub rejected the token (401: {said}) {where}")
        if code == 403:
            raise PermanentDelivery(
                f"GitHub denied {where} (403: {said}); the token needs Actions write access"
            )
        if code == 404:
            raise PermanentDelivery(
                f"GitHub found nothing (404) {where}; check the repository and workflow names, "
                "and that the token can see the repository"
            )
        raise PermanentDelivery(f"GitHub refused {where} ({code}: {said})")


def _target(raw: dict[str, Any]) -> GitHubTarget:
    return parse_target(GitHubTarget, raw, "GitHub target settings")


def _followed(ref: RunRef, request: DeployRequest) -> GitHubTarget:
    """The repository and workflow the run was dispatched to (the RunRef outlives config)."""
    if ref.data.get("repo") and ref.data.get("workflow"):
        return GitHubTarget.model_construct(
            repo=ref.data["repo"], workflow=ref.data["workflow"], ref="main", inputs={}
        )
    return _target(request.target)


def _ref(run: Json, data: Json) -> RunRef:
    return RunRef(str(run["id"]), str(run.get("html_url", "")), data)


def _dispatched(ref: RunRef) -> datetime:
    return datetime.fromisoformat(str(ref.data["dispatched"]))


def _workflow_path(target: GitHubTarget) -> str:
    return f"/repos/{target.repo}/actions/workflows/{quote(target.workflow, safe='')}"


def _web(api: str) -> str:
    """The web address beside a REST API address (github.com, or a GHES host)."""
    return "https://github.com" if api == "https://api.github.com" else api.removesuffix("/api/v3")


def _said(response: httpx.Response) -> str:
    body = json_body(response)
    return " ".join(str(body.get("message") or response.reason_phrase).split())


def _rate_limited(response: httpx.Response, now: datetime) -> float | None:
    """Seconds to wait when GitHub says a rate limit was hit; None when it did not."""
    wait = retry_after(response)
    if wait is not None:
        return wait
    if response.headers.get("x-ratelimit-remaining") != "0":
        return 60.0 if response.status_code == 429 else None
    try:
        reset = float(response.headers["x-ratelimit-reset"])
    except (KeyError, ValueError):
        return 60.0
    try:
        sent = parsedate_to_datetime(response.headers["date"]).timestamp()
    except (KeyError, TypeError, ValueError):
        sent = now.timestamp()
    return max(reset - sent, 0.0)


validate, validate_target, create = entry_points(GitHubSettings, GitHubTarget, GitHubBackend)
