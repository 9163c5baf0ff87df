"""The GitHub Actions backend against the fake REST API: dispatch with the run's details (2026),
the classic 204 and an older GHES, finding the run by its title, status, cancel, a restart,
and the errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fake_github import GITHUB_TOKEN, REPO, FakeGitHub

from adapters.deploy import github
from adapters.deploy.github import GitHubBackend
from adapters.deploy.github_settings import RESERVED
from bot.clock import FakeClock
from bot.errors import ConfigError, PermanentDelivery, RetryableDelivery
from bot.ports import DeployRequest, Phase, RunRef

Make = Callable[..., GitHubBackend]
TARGET = {"repo": REPO, "workflow": "deploy.yml", "inputs": {"region": "cn-hangzhou"}}


def request(
    *,
    run_id: str = "run-42",
    dry_run: bool = False,
    params: dict[str, str] | None = None,
    **target: Any,
) -> DeployRequest:
    return DeployRequest(
        run_id=run_id,
        action="deploy",
        service="orders",
        environment="prod",
        version="1.4.2",
        previous="1.4.1",
        target={**TARGET, **target},
        params=params or {},
        dry_run=dry_run,
    )


@pytest.fixture
async def api() -> AsyncIterator[FakeGitHub]:
    server = FakeGitHub()
    await server.start()
    declared = dict.fromkeys((*RESERVED, "region", "canary"), False)
    server.add_workflow(inputs=declared)
    yield server
    await server.close()


@pytest.fixture
async def make(api: FakeGitHub, clock: FakeClock) -> AsyncIterator[Make]:
    made: list[GitHubBackend] = []

    def build(**overrides: Any) -> GitHubBackend:
        raw = {"url": api.base_url, "token": GITHUB_TOKEN, "lookup_interval": 0, **overrides}
        made.append(github.create("github", raw, clock=clock))
        return made[-1]

    yield build
    for backend in made:
        await backend.aclose()


def only_run(api: FakeGitHub) -> int:
    [run_id] = api.runs
    return run_id


async def test_dispatch_with_run_details_then_follow_the_run(api: FakeGitHub, make: Make) -> None:
    backend = make()
    ref = await backend.start(request(params={"canary": "10"}))

    [body] = api.dispatches
    assert body == {
        "ref": "main",
        "inputs": {
            "region": "cn-hangzhou",
            "canary": "10",
            "action": "deploy",
            "service": "orders",
            "environment": "prod",
            "version": "1.4.2",
            "run_id": "run-42",
        },
        "return_run_details": True,
    }
    run_id = only_run(api)
    assert ref.id == str(run_id) and ref.url == api.runs[run_id]["html_url"]
    assert api.listings == 1  # the retry check before dispatching, nothing after

    queued = await backend.status(ref, request())
    assert queued.phase is Phase.RUNNING and queued.message == "workflow run #57 queued"
    api.progress(run_id, "waiting")
    assert "reviewer's approval" in (await backend.status(ref, request())).message
    api.progress(run_id, "in_progress")
    assert (await backend.status(ref, request())).message == "workflow run #57 in progress"
    api.complete(run_id, "success")
    done = await backend.status(ref, request())
    assert done.phase is Phase.SUCCEEDED and done.url == ref.url


async def test_classic_dispatch_finds_the_run_by_its_title(api: FakeGitHub, make: Make) -> None:
    api.mode, api.list_delay = "classic", 1
    ref = await make().start(request(dry_run=True))
    run_id = only_run(api)
    assert ref.id == str(run_id)
    assert api.runs[run_id]["display_title"] == "deploy orders 1.4.2 (run-42)"
    assert api.dispatches[0]["inputs"]["dry_run"] == "true"
    assert "return_run_details" in api.dispatches[0]


async def test_older_ghes_is_asked_again_without_the_new_key(api: FakeGitHub, make: Make) -> None:
    api.mode = "legacy"
    ref = await make().start(request())
    assert ref.id == str(only_run(api))
    assert "return_run_details" not in api.dispatches[0]


async def test_a_run_that_shows_late_is_followed_as_pending(
    api: FakeGitHub, make: Make, clock: FakeClock
) -> None:
    api.mode, api.list_delay = "classic", 3  # unseen by start's 2 lookups and the next one
    ref = await make(lookup_attempts=2).start(request())
    assert ref.id == "pending:run-42" and ref.url == f"{api.base_url}/{REPO}/actions"
    stored = json.loads(json.dumps({"id": ref.id, "url": ref.url, "data": ref.data}))

    later = make()  # a restart: a new instance with the stored RunRef
    looking = await later.status(RunRef(**stored), request())
    assert looking.phase is Phase.RUNNING
    assert looking.message == "dispatched deploy.yml; looking for its run titled run-42"
    api.complete(only_run(api), "failure")
    failed = await later.status(RunRef(**stored), request())
    assert failed.phase is Phase.FAILED and failed.message == "workflow run #57 failed"


async def test_a_run_never_titled_with_the_run_id_fails_in_the_end(
    api: FakeGitHub, make: Make, clock: FakeClock
) -> None:
    api.mode = "classic"
    api.workflows[0].run_name = None  # the workflow does not set run-name
    backend = make(lookup_attempts=1, run_lookup="5m")
    ref = await backend.start(request())
    assert ref.id.startswith("pending:")
    assert (await backend.status(ref, request())).phase is Phase.RUNNING
    clock.advance(301)
    failed = await backend.status(ref, request())
    assert failed.phase is Phase.FAILED
    assert "run-name to include ${{ inputs.run_id }}" in failed.message
    with pytest.raises(RetryableDelivery, match="has not shown yet"):
        await backend.cancel(ref, request())


async def test_a_retried_start_does_not_dispatch_twice(api: FakeGitHub, make: Make) -> None:
    backend = make()
    first = await backend.start(request())
    again = await backend.start(request())
    assert len(api.dispatches) == 1 and again.id == first.id
    await backend.start(request(run_id="run-421"))  # a different run, not mistaken for run-42
    assert len(api.dispatches) == 2


@pytest.mark.parametrize(
    ("conclusion", "phase", "said"),
    [
        ("failure", Phase.FAILED, "failed"),
        ("timed_out", Phase.FAILED, "timed out"),
        ("startup_failure", Phase.FAILED, "startup failure"),
        ("action_required", Phase.FAILED, "action required"),
        ("cancelled", Phase.CANCELLED, "was cancelled"),
        ("skipped", Phase.CANCELLED, "was skipped"),
        ("stale", Phase.CANCELLED, "went stale"),
        ("neutral", Phase.CANCELLED, "neutral"),
    ],
)
async def test_conclusions(
    api: FakeGitHub, make: Make, conclusion: str, phase: Phase, said: str
) -> None:
    backend = make()
    ref = await backend.start(request())
    api.complete(only_run(api), conclusion)
    status = await backend.status(ref, request())
    assert status.phase is phase and said in status.message


async def test_cancel_cancels_the_run(api: FakeGitHub, make: Make) -> None:
    backend = make()
    ref = await backend.start(request())
    api.progress(only_run(api), "in_progress")
    await backend.cancel(ref, request())
    assert (await backend.status(ref, request())).phase is Phase.CANCELLED
    await backend.cancel(ref, request())  # 409: it has ended, nothing to do


async def test_errors_name_the_workflow_and_never_the_token(
    api: FakeGitHub, make: Make, clock: FakeClock
) -> None:
    with pytest.raises(PermanentDelivery, match="rejected the token") as bad:
        await make(token="ghp_wrong").start(request())
    assert "ghp_wrong" not in str(bad.value) and GITHUB_TOKEN not in str(bad.value)
    with pytest.raises(PermanentDelivery, match=r"404\) listing the runs of workflow 'nope.yml'"):
        await make().start(request(workflow="nope.yml"))
    with pytest.raises(PermanentDelivery, match=r"Unexpected inputs provided: \[\"colour\"\]"):
        await make().start(request(params={"colour": "blue"}))
    with pytest.raises(PermanentDelivery, match="'version' is an input Tocsin sets"):
        await make().start(request(params={"version": "9.9.9"}))
    with pytest.raises(PermanentDelivery, match="No ref found for: nope"):
        await make().start(request(ref="nope"))

    reset = int(clock.now().timestamp()) + 120
    date = "Mon, 05 Jan 2026 03:00:00 GMT"
    limit = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset), "Date": date}
    api.fail("list", 403, "API rate limit exceeded for user ID 1.", headers=limit)
    with pytest.raises(RetryableDelivery, match="rate limit") as limited:
        await make().start(request())
    assert limited.value.retry_after == 120
    api.fail("dispatch", 429, "secondary rate limit", headers={"Retry-After": "30"})
    with pytest.raises(RetryableDelivery) as secondary:
        await make().start(request())
    assert secondary.value.retry_after == 30
    api.fail("get", 503, "Service Unavailable")
    with pytest.raises(RetryableDelivery, match=r"503 reading run 1 of workflow 'deploy\.yml'"):
        await make().status(RunRef("1", "", {"repo": REPO, "workflow": "deploy.yml"}), request())


async def test_a_slow_github_is_a_retryable_timeout(api: FakeGitHub, make: Make) -> None:
    api.hold("list")
    with pytest.raises(RetryableDelivery, match="timed out"):
        await make(timeout="200ms").start(request())


def test_settings_are_checked() -> None:
    assert github.validate({"token": "t"}) == []
    assert github.validate({"token": "t", "lookup_attempts": 0}) == [
        "lookup_attempts: Input should be greater than or equal to 1"
    ]
    assert github.validate_target({"repo": REPO, "workflow": 161335}) == []
    assert github.validate_target({"repo": "orders", "workflow": "d.yml"})[0].startswith(
        "repo: String should match pattern"
    )
    assert github.validate_target({"repo": REPO, "workflow": "d.yml", "inputs": {"run_id": 1}}) == [
        "inputs: 'run_id' is set by Tocsin"
    ]
    with pytest.raises(ConfigError):
        github.create("github", {"url": "https://api.github.com"}, clock=FakeClock())
