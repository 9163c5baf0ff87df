"""Jenkins: start a parameterized job, follow its queue item into a build, read the console.

```yaml
deploy:
  backends:
    jenkins-ci:
      {kind: jenkins, url: https://ci.example.com, user: tocsin, api_token: "${JENKINS_TOKEN}"}
services:
  orders:
    deploy:
      prod: {backend: jenkins-ci, job: team/deploy-orders, parameters: {REGION: cn-east}}
```

- start: ``POST /job/{job}/buildWithParameters`` (form; the parameters are in
  `jenkins_settings`) answers 201 with ``Location: …/queue/item/{id}/``: the run is
  ``queue:{id}``. Jenkins folds a request identical to one still queued into it, and a build that
  already carries our ``TOCSIN_RUN_ID`` among the job's last 25 is taken instead of starting
  another, so a repeated `start` does not deploy twice.
- `refresh` (optional in the port; the engine stores what it returns): once the queue item
  names its build, the ref with ``build`` and ``build_url`` in its data, so later polls — also
  after a restart, when Jenkins has dropped the item (5 minutes after it left the queue) — go
  straight to the build.
- status: the queue item (``why``, ``cancelled``, ``executable``), then the build's
  ``building`` / ``result`` (SUCCESS → succeeded; FAILURE, UNSTABLE → failed; ABORTED,
  NOT_BUILT → cancelled), progress from ``timestamp`` and ``estimatedDuration``, and the last 20
  console lines from ``logText/progressiveText``. A queue item Jenkins no longer knows, with no
  build carrying the run id, is failed with that said.
- cancel: ``POST /queue/cancelItem?id=`` while queued, ``POST /job/{job}/{n}/stop`` once built.

Errors: 401/403, an unknown job and a refused request are `PermanentDelivery`; timeouts,
connection failures, 429 and 5xx are `RetryableDelivery`. The API token never leaves the
``Authorization`` header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from adapters.deploy.http_common import accepted, json_body, make_client, send
from adapters.deploy.jenkins_log import LogTail
from adapters.deploy.jenkins_settings import (
    JenkinsSettings,
    JenkinsTarget,
    build_parameters,
    names,
)
from adapters.deploy.settings_common import entry_points, parse_target
from bot.clock import Clock
from bot.errors import DeliveryError, PermanentDelivery
from bot.ports import BackendCapabilities, DeployRequest, Phase, RunRef, RunStatus

QUEUE_GRACE = timedelta(minutes=1)
"""A queue item not found this soon after the start is taken as not visible yet."""
RECENT_BUILDS = 25
RESULTS: dict[str, tuple[Phase, str]] = {
    "SUCCESS": (Phase.SUCCEEDED, "succeeded"),
    "FAILURE": (Phase.FAILED, "failed"),
    "UNSTABLE": (Phase.FAILED, "is unstable"),
    "ABORTED": (Phase.CANCELLED, "was aborted"),
    "NOT_BUILT": (Phase.CANCELLED, "was not built"),
}
_QUEUE_ITEM = re.compile(r"/queue/item/(\d+)/?$")


def job_path(job: str) -> str:
    """``team/deploy-orders`` → ``/job/team/job/deploy-orders``."""
    return "".join(f"/job/{quote(part, safe='')}" for part in job.split("/"))


@dataclass(frozen=True, slots=True)
class _Build:
    number: int
    url: str


class JenkinsBackend:
    kind = "jenkins"

    def __init__(self, name: str, settings: JenkinsSettings, *, clock: Clock) -> None:
        self.name = name
        self.capabilities = BackendCapabilities(dry_run=settings.dry_run, cancel=True, canary=True)
        self._settings = settings
        self._clock = clock
        self._client = make_client(
            settings,
            base_url=settings.url,
            auth=httpx.BasicAuth(settings.user, settings.api_token.get_secret_value()),
        )
        self._builds: dict[tuple[str, int], _Build] = {}
        """Queue items seen turning into builds (job, queue id)."""
        self._logs: dict[tuple[str, int], LogTail] = {}
        """Consoles being followed (job, build number)."""

    # -- the port ---------------------------------------------------------------------------

    async def start(self, request: DeployRequest) -> RunRef:
        target = _target(request.target)
        form = build_parameters(request, self._settings, target)
        job = target.job
        data: dict[str, Any] = {"job": job, "queued_at": self._clock.now().isoformat()}
        run_param = names(self._settings, target)["run_id"]
        if run_param is not None:
            data["run_param"] = run_param
            build = await self._find_build(job, run_param, request.run_id)
            if build is not None:
                return _with_build(RunRef(f"build:{build.number}", build.url, data), build)
        what = f"jenkins: start {job}"
        response = await self._call(
            "POST", f"{job_path(job)}/buildWithParameters", what, data=form, allow=(400,)
        )
        if response.status_code == 400:
            raise PermanentDelivery(
                f"{what}: Jenkins refused the parameters (HTTP 400; is the job parameterized?)"
            )
        match = _QUEUE_ITEM.search(response.headers.get("location", ""))
        if response.status_code != 201 or match is None:
            raise PermanentDelivery(
                f"{what}: Jenkins answered HTTP {response.status_code} without a queue item"
            )
        queue_id = int(match.group(1))
        return RunRef(f"queue:{queue_id}", self._job_url(job), {**data, "queue_id": queue_id})

    async def refresh(self, ref: RunRef, request: DeployRequest) -> RunRef | None:
        """The ref with ``build`` and ``build_url`` in its data once its queue item has become a
        build (None: nothing new). The engine stores it, so a later poll needs no queue item."""
        if "build" in ref.data:
            return None
        where = await self._locate(ref, request)
        return None if isinstance(where, RunStatus) else _with_build(ref, where)

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        where = await self._locate(ref, request)
        if isinstance(where, RunStatus):
            return where
        status = await self._build_status(str(ref.data["job"]), where)
        if status.phase.done and "queue_id" in ref.data:
            self._builds.pop((str(ref.data["job"]), int(ref.data["queue_id"])), None)
        return status

    async def cancel(self, ref: RunRef, request: DeployRequest) -> None:
        job = str(ref.data["job"])
        where = await self._locate(ref, request)
        if isinstance(where, RunStatus):
            if where.phase.done:
                return
            queue_id = int(ref.data["queue_id"])
            response = await self._call(
                "POST",
                "/queue/cancelItem",
                f"jenkins: cancel queue item {queue_id}",
                params={"id": queue_id},
                allow=(302, 303, 404),
            )
            if response.status_code != 404:
                return
            where = await self._locate(ref, request)  # it left the queue meanwhile
            if isinstance(where, RunStatus):
                return
        await self._call(
            "POST",
            f"{job_path(job)}/{where.number}/stop",
            f"jenkins: stop {job} #{where.number}",
            allow=(302, 303, 404),
        )

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        return None

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- queue item → build -----------------------------------------------------------------

    async def _locate(self, ref: RunRef, request: DeployRequest) -> _Build | RunStatus:
        """The run's build, or what the queue says while there is none."""
        data, job = ref.data, str(ref.data["job"])
        if "build" in data:
            return _Build(int(data["build"]), str(data.get("build_url") or ref.url))
        queue_id = int(data["queue_id"])
        if (job, queue_id) in self._builds:
            return self._builds[(job, queue_id)]
        response = await self._call(
            "GET",
            f"/queue/item/{queue_id}/api/json",
            f"jenkins: queue item {queue_id}",
            allow=(404,),
        )
        if response.status_code == 404:
            return await self._lost(ref, request, queue_id)
        item = json_body(response)
        executable = item.get("executable")
        if isinstance(executable, dict) and isinstance(executable.get("number"), int):
            build = _Build(executable["number"], str(executable.get("url") or ""))
            self._builds[(job, queue_id)] = build
            return build
        if item.get("cancelled"):
            return RunStatus(Phase.CANCELLED, "cancelled in Jenkins's queue", url=ref.url)
        why = " ".join(str(item.get("why") or "waiting for an executor").split())
        return RunStatus(Phase.RUNNING, f"queued: {why}"[:300], url=ref.url)

    async def _lost(self, ref: RunRef, request: DeployRequest, queue_id: int) -> _Build | RunStatus:
        job, run_param = str(ref.data["job"]), ref.data.get("run_param")
        if run_param:
            build = await self._find_build(job, str(run_param), request.run_id)
            if build is not None:
                self._builds[(job, queue_id)] = build
                return build
        queued_at = ref.data.get("queued_at")
        if queued_at and self._clock.now() - datetime.fromisoformat(queued_at) < QUEUE_GRACE:
            return RunStatus(Phase.RUNNING, "waiting for Jenkins's queue", url=ref.url)
        return RunStatus(
            Phase.FAILED,
            f"Jenkins no longer knows queue item {queue_id} and none of the last "
            f"{RECENT_BUILDS} builds of {job} carries this run: it left the queue without a "
            "build, or Jenkins restarted",
            url=ref.url,
        )

    async def _find_build(self, job: str, param: str, run_id: str) -> _Build | None:
        """The recent build of `job` whose parameter `param` is `run_id`."""
        tree = f"builds[number,url,actions[parameters[name,value]]]{{0,{RECENT_BUILDS}}}"
        response = await self._call(
            "GET", f"{job_path(job)}/api/json", f"jenkins: job {job}", params={"tree": tree}
        )
        for build in _dicts(json_body(response).get("builds")):
            for action in _dicts(build.get("actions")):
                for parameter in _dicts(action.get("parameters")):
                    if parameter.get("name") == param and parameter.get("value") == run_id:
                        number = build.get("number")
                        if isinstance(number, int):
                            return _Build(number, str(build.get("url") or ""))
        return None

    # -- the build ----------------------------------------------------------------------------

    async def _build_status(self, job: str, build: _Build) -> RunStatus:
        number = build.number
        response = await self._call(
            "GET",
            f"{job_path(job)}/{number}/api/json",
            f"jenkins: {job} #{number}",
            params={"tree": "number,url,building,result,timestamp,estimatedDuration"},
            allow=(404,),
        )
        if response.status_code == 404:
            return RunStatus(
                Phase.FAILED, f"build #{number} of {job} no longer exists", url=build.url
            )
        info = json_body(response)
        url = str(info.get("url") or build.url)
        log_tail = await self._log_tail(job, number)
        result = info.get("result")
        if info.get("building") or not result:
            return RunStatus(
                Phase.RUNNING,
                f"build #{number} running",
                progress=self._progress(info),
                url=url,
                log_tail=log_tail,
            )
        self._logs.pop((job, number), None)
        phase, words = RESULTS.get(str(result), (Phase.FAILED, f"ended {result}"))
        progress = 1.0 if phase is Phase.SUCCEEDED else None
        return RunStatus(phase, f"build #{number} {words}", progress, url, log_tail)

    async def _log_tail(self, job: str, number: int) -> str:
        tail = self._logs.setdefault((job, number), LogTail())
        try:
            response = await self._call(
                "GET",
                f"{job_path(job)}/{number}/logText/progressiveText",
                f"jenkins: console of {job} #{number}",
                params={"start": tail.offset},
            )
        except DeliveryError:
            return tail.text()  # the console is a bonus: the build's state still counts
        tail.feed(response.content, response.headers.get("x-text-size"))
        return tail.text()

    def _progress(self, info: dict[str, Any]) -> float | None:
        started, estimate = info.get("timestamp"), info.get("estimatedDuration")
        if not isinstance(started, int | float) or not isinstance(estimate, int | float):
            return None
        if estimate <= 0:
            return None
        elapsed = self._clock.now().timestamp() * 1000 - started
        return min(max(elapsed / estimate, 0.0), 0.99)

    # -- HTTP -------------------------------------------------------------------------------

    async def _call(
        self, method: str, url: str, what: str, *, allow: tuple[int, ...] = (), **kwargs: Any
    ) -> httpx.Response:
        """One request; a 2xx answer or one of `allow` is returned, anything else raised."""
        response = await send(self._client, method, url, what, **kwargs)
        if accepted(response, what, allow):
            return response
        code = response.status_code
        if code == 401:
            raise PermanentDelivery(f"{what}: Jenkins refused the user or API token (HTTP 401)")
        if code == 403:
            raise PermanentDelivery(f"{what}: the Jenkins user may not do this (HTTP 403)")
        if code == 404:
            raise PermanentDelivery(f"{what}: not found in Jenkins (HTTP 404)")
        if 300 <= code < 400:
            raise PermanentDelivery(f"{what}: unexpected redirect (HTTP {code}; check url)")
        raise PermanentDelivery(f"{what}: HTTP {code}")

    def _job_url(self, job: str) -> str:
        return f"{self._settings.url}{job_path(job)}/"


def _target(raw: dict[str, Any]) -> JenkinsTarget:
    return parse_target(JenkinsTarget, raw, "jenkins: bad target")


def _with_build(ref: RunRef, build: _Build) -> RunRef:
    data = {**ref.data, "build": build.number, "build_url": build.url}
    return RunRef(ref.id, build.url or ref.url, data)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


validate, validate_target, create = entry_points(JenkinsSettings, JenkinsTarget, JenkinsBackend)
