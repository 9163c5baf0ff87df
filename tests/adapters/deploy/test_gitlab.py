"""The GitLab CI backend against the fake REST API: a pipeline with Tocsin's variables (by token
or trigger token), its status and failed jobs, cancel, a restart, and the errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
from fake_gitlab import GITLAB_TOKEN, PROJECT_PATH, TRIGGER_TOKEN, FakeGitLab

from adapters.deploy import gitlab
from adapters.deploy.gitlab import GitLabBackend
from bot.clock import FakeClock
from bot.errors import ConfigError, PermanentDelivery, RetryableDelivery
from bot.ports import DeployRequest, Phase, RunRef

Make = Callable[..., GitLabBackend]
TARGET = {"project": PROJECT_PATH, "variables": {"DEPLOY_TARGET": "k8s", "REPLICAS": 3}}


def request(
    *,
    action: str = "deploy",
    dry_run: bool = False,
    params: dict[str, str] | None = None,
    **target: Any,
) -> DeployRequest:
    return DeployRequest(
        run_id="run-42",
        action=action,
        service="orders",
        environment="prod",
        version="1.4.2",
        previous="1.4.1",
        target={**TARGET, **target},
        params=params or {},
        dry_run=dry_run,
    )


@pytest.fixture
async def api() -> AsyncIterator[FakeGitLab]:
    server = FakeGitLab()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make(api: FakeGitLab) -> AsyncIterator[Make]:
    made: list[GitLabBackend] = []

    def build(**overrides: Any) -> GitLabBackend:
        raw = {"url": api.base_url, "token": GITLAB_TOKEN, **overrides}
        made.append(gitlab.create("gitlab", raw, clock=FakeClock()))
        return made[-1]

    yield build
    for backend in made:
        await backend.aclose()


async def test_pipeline_runs_with_tocsins_variables_until_success(
    api: FakeGitLab, make: Make
) -> None:
    backend = make()
    ref = await backend.start(request(params={"canary": "10", "skip-tests": "yes"}))

    [(pid, pipeline)] = api.pipelines.items()
    assert ref.id == str(pid) and ref.url == f"{api.base_url}/shop/orders/-/pipelines/{pid}"
    assert pipeline["ref"] == "main" and pipeline["source"] == "api"
    assert api.variables[pid] == {
        "DEPLOY_TARGET": "k8s",
        "REPLICAS": "3",
        "TOCSIN_PARAM_CANARY": "10",
        "TOCSIN_PARAM_SKIP_TESTS": "yes",
        "TOCSIN_ACTION": "deploy",
        "TOCSIN_SERVICE": "orders",
        "TOCSIN_ENVIRONMENT": "prod",
        "TOCSIN_VERSION": "1.4.2",
        "TOCSIN_PREVIOUS_VERSION": "1.4.1",
        "TOCSIN_RUN_ID": "run-42",
        "TOCSIN_DRY_RUN": "false",
        "TOCSIN_STAGE": "",
        "TOCSIN_CANARY_WEIGHT": "0",
    }

    created = await backend.status(ref, request())
    assert created.phase is Phase.RUNNING and created.message == f"pipeline #{pid} created"
    api.set_status(pid, "pending")
    assert "waiting for a runner" in (await backend.status(ref, request())).message
    api.set_status(pid, "running")
    assert (await backend.status(ref, request())).message == f"pipeline #{pid} running"
    api.set_status(pid, "success")
    done = await backend.status(ref, request())
    assert done.phase is Phase.SUCCEEDED and done.url == ref.url


async def test_manual_and_failed_pipelines_name_their_jobs(api: FakeGitLab, make: Make) -> None:
    backend = make()
    ref = await backend.start(request(action="rollback", dry_run=True, ref="release"))
    pid = int(ref.id)
    assert api.variables[pid]["TOCSIN_ACTION"] == "rollback"
    assert api.variables[pid]["TOCSIN_DRY_RUN"] == "true"
    api.add_job(pid, "build", "success", stage="build")
    api.add_job(pid, "deploy-prod", "manual")
    api.set_status(pid, "manual")
    manual = await backend.status(ref, request())
    assert manual.phase is Phase.RUNNING
    assert manual.message == f"pipeline #{pid} waiting for a manual job (manual: deploy-prod)"

    api.jobs[pid][1]["status"] = "failed"
    api.add_job(pid, "smoke", "failed", stage="verify")
    api.set_status(pid, "failed")
    failed = await backend.status(ref, request())
    assert failed.phase is Phase.FAILED
    assert failed.message == f"pipeline #{pid} failed (failed: deploy-prod, smoke)"


async def test_trigger_token_runs_the_pipeline_through_the_trigger(
    api: FakeGitLab, make: Make
) -> None:
    backend = make(trigger_token=TRIGGER_TOKEN)
    ref = await backend.start(request(project=42))
    pipeline = api.pipelines[int(ref.id)]
    assert pipeline["source"] == "trigger"
    assert api.variables[int(ref.id)]["TOCSIN_VERSION"] == "1.4.2"
    api.set_status(int(ref.id), "skipped")
    assert (await backend.status(ref, request(project=42))).phase is Phase.CANCELLED

    with pytest.raises(PermanentDelivery, match="trigger token") as caught:
        await make(trigger_token="glptt-wrong").start(request())
    assert "glptt-wrong" not in str(caught.value)


async def test_cancel_cancels_the_pipeline(api: FakeGitLab, make: Make) -> None:
    backend = make()
    ref = await backend.start(request())
    api.add_job(int(ref.id), "deploy-prod", "running")
    api.set_status(int(ref.id), "running")
    await backend.cancel(ref, request())
    cancelled = await backend.status(ref, request())
    assert cancelled.phase is Phase.CANCELLED
    assert api.jobs[int(ref.id)][0]["status"] == "canceled"
    await backend.cancel(ref, request())  # already over: GitLab answers 200 again


async def test_a_new_instance_follows_a_stored_pipeline(api: FakeGitLab, make: Make) -> None:
    ref = await make().start(request())
    stored = json.loads(json.dumps({"id": ref.id, "url": ref.url, "data": ref.data}))
    api.set_status(int(ref.id), "success")
    later = make()
    status = await later.status(RunRef(**stored), request(project="renamed/project"))
    assert status.phase is Phase.SUCCEEDED


async def test_errors_name_the_project_and_never_the_token(api: FakeGitLab, make: Make) -> None:
    with pytest.raises(PermanentDelivery, match="rejected the token") as bad:
        await make(token="glpat-wrong").start(request())
    assert "glpat-wrong" not in str(bad.value) and GITLAB_TOKEN not in str(bad.value)
    with pytest.raises(PermanentDelivery, match=r"'shop/payments'.*check the project path"):
        await make().start(request(project="shop/payments"))
    with pytest.raises(PermanentDelivery, match=r"on 'nope' of project .*Reference not found"):
        await make().start(request(ref="nope"))
    with pytest.raises(PermanentDelivery, match="'bad key!'"):
        await make().start(request(params={"bad key!": "x"}))

    api.fail(429, "429 Too Many Requests", headers={"Retry-After": "12"})
    with pytest.raises(RetryableDelivery, match="GitLab answered 429") as limited:
        await make().start(request())
    assert limited.value.retry_after == 12
    api.fail(502, "502 Bad Gateway")
    with pytest.raises(RetryableDelivery, match="reading pipeline #7"):
        await make().status(RunRef("7", "", {"project": PROJECT_PATH, "pipeline": 7}), request())


async def test_a_slow_gitlab_is_a_retryable_timeout(api: FakeGitLab, make: Make) -> None:
    api.hold("create")
    with pytest.raises(RetryableDelivery, match="timed out"):
        await make(timeout="200ms").start(request())
    with pytest.raises(RetryableDelivery, match="ConnectError"):
        await make(url="http://127.0.0.1:1").start(request())


async def test_a_start_is_run_once_per_run_id_even_when_its_answer_was_lost(
    api: FakeGitLab, make: Make
) -> None:
    """GitLab takes no idempotency key: a repeated start returns the pipeline it started, and a
    start retried after a lost answer finds the pipeline the lost attempt made."""
    backend = make(timeout="200ms")
    slow = api.hold("create")
    with pytest.raises(RetryableDelivery, match="timed out"):
        await backend.start(request())
    slow.set()  # GitLab goes on and makes the pipeline the answer of which was lost
    for _ in range(200):
        if api.pipelines:
            break
        await asyncio.sleep(0.01)
    [made] = api.pipelines
    api.held.clear()
    ref = await backend.start(request())
    assert ref.id == str(made) and ref.data["pipeline"] == made
    assert (await backend.start(request())).id == ref.id
    assert list(api.pipelines) == [made]
    other = await backend.start(replace(request(), run_id="run-43"))
    assert other.id != ref.id and len(api.pipelines) == 2


def test_settings_are_checked() -> None:
    assert gitlab.validate({"url": "https://gitlab.example.com", "token": "t"}) == []
    assert gitlab.validate({"url": "gitlab.example.com", "token": "t", "trigger": "x"}) == [
        "url: must be an http(s) URL",
        "trigger: unknown key (check its spelling against config/example.yaml)",
    ]
    assert gitlab.validate_target({"project": 42}) == []
    assert gitlab.validate_target({"project": "a/b", "variables": {"TOCSIN_VERSION": "x"}}) == [
        "variables: 'TOCSIN_VERSION': TOCSIN_ variables are set by Tocsin"
    ]
    assert gitlab.validate_target({"ref": ""})[0] == "project: required key is missing"
    with pytest.raises(ConfigError):
        gitlab.create("gitlab", {"url": "https://gitlab.example.com"}, clock=FakeClock())
