"""The Jenkins deploy backend against the fake remote access API: the build parameters, a queue
item turning into a build, results, the console tail, cancel, restarts and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fake_jenkins import START_MS, TOKEN, USER, FakeJenkins

from adapters.deploy import jenkins
from adapters.deploy.jenkins import JenkinsBackend, job_path
from bot.clock import FakeClock
from bot.errors import ConfigError, PermanentDelivery, RetryableDelivery
from bot.ports import DeployRequest, Phase, RunRef

JOB = "team/deploy-orders"
Make = Callable[..., JenkinsBackend]


@pytest.fixture
async def api() -> AsyncIterator[FakeJenkins]:
    server = FakeJenkins()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make(api: FakeJenkins, clock: FakeClock) -> AsyncIterator[Make]:
    """``make(**overrides)``: a backend `create` builds for the fake; closed after the test."""
    made: list[JenkinsBackend] = []

    def build(**overrides: Any) -> JenkinsBackend:
        backend = jenkins.create("jenkins-ci", section(api.base_url, **overrides), clock=clock)
        made.append(backend)
        return backend

    yield build
    for backend in made:
        await backend.aclose()


def section(url: str, **overrides: Any) -> dict[str, Any]:
    return {"url": url, "user": USER, "api_token": TOKEN, **overrides}


def request(**overrides: Any) -> DeployRequest:
    values: dict[str, Any] = {
        "run_id": "run-42",
        "action": "deploy",
        "service": "orders",
        "environment": "prod",
        "version": "v2.4.1",
        "previous": "v2.4.0",
        "target": {"job": JOB, "parameters": {"REGION": "cn-east", "CANARY": True}},
        "params": {"reason": "hotfix 订单"},
        "requested_by": "alice",
    }
    return DeployRequest(**{**values, **overrides})


def form(path_qs: str) -> dict[str, str]:
    return dict(parse_qsl(path_qs.partition("?")[2]))


async def started(backend: JenkinsBackend, api: FakeJenkins) -> tuple[RunRef, int]:
    ref = await backend.start(request())
    queue_id = int(ref.id.removeprefix("queue:"))
    return ref, queue_id


# -- settings ------------------------------------------------------------------------------


def test_a_complete_section_is_valid() -> None:
    assert jenkins.validate(section("https://ci.example.com/jenkins", timeout="20s")) == []
    assert jenkins.validate_target({"job": JOB, "parameters": {"REGION": "cn"}}) == []


def test_problems_are_named_by_key() -> None:
    problems = jenkins.validate(
        {"url": "ci.example.com", "user": USER, "parameter_names": {"versoin": "TAG"}}
    )
    assert "url: must be an http(s) URL" in problems
    assert "api_token: required key is missing" in problems
    assert any(p.startswith("parameter_names.versoin") for p in problems)
    assert jenkins.validate(section("https://tocsin:secret@ci.example.com")) == [
        "url: must not hold credentials (use user and api_token)"
    ]
    assert jenkins.validate_target({"job": "team//deploy", "branch": "x"}) == [
        "job: must be a job name or folder path such as 'team/deploy-orders'",
        "branch: unknown key (check its spelling against config/example.yaml)",
    ]
    assert jenkins.validate_target({"job": "a", "parameters": {"BAD KEY": 1}}) == [
        "parameters: BAD KEY: a parameter name is letters, digits, '_', '.' or '-'"
    ]
    with pytest.raises(ConfigError):
        jenkins.create("x", {"url": "https://ci"}, clock=FakeClock())


def test_a_folder_path_becomes_nested_jobs() -> None:
    assert job_path("team/deploy-orders") == "/job/team/job/deploy-orders"
    assert job_path("ops/订单 deploy") == "/job/ops/job/%E8%AE%A2%E5%8D%95%20deploy"


# -- start ---------------------------------------------------------------------------------


async def test_start_queues_a_build_with_the_run_as_parameters(
    api: FakeJenkins, make: Make
) -> None:
    backend = make()
    ref, queue_id = await started(backend, api)

    assert ref.id == f"queue:{queue_id}"
    assert ref.url == f"{api.base_url}/job/team/job/deploy-orders/"
    assert ref.data["queue_id"] == queue_id and ref.data["job"] == JOB
    assert api.queue[queue_id].params == {
        "TOCSIN_ACTION": "deploy",
        "SERVICE": "orders",
        "ENVIRONMENT": "prod",
        "VERSION": "v2.4.1",
        "PREVIOUS_VERSION": "v2.4.0",
        "TOCSIN_RUN_ID": "run-42",
        "DRY_RUN": "false",
        "REGION": "cn-east",
        "CANARY": "true",
        "REASON": "hotfix 订单",
    }
    assert backend.capabilities.dry_run is False and backend.capabilities.cancel is True

    status = await backend.status(ref, request())
    assert status.phase is Phase.RUNNING
    assert status.message == "queued: In the quiet period. Expires in 4.9 sec"
    assert status.url == ref.url


async def test_parameter_names_rename_or_leave_out(api: FakeJenkins, make: Make) -> None:
    backend = make(parameter_names={"version": "IMAGE_TAG", "previous": None}, dry_run=True)
    target = {"job": "deploy-orders", "parameter_names": {"environment": "ENV"}}
    ref = await backend.start(request(target=target, params={}, dry_run=True))

    params = api.queue[ref.data["queue_id"]].params
    assert params["IMAGE_TAG"] == "v2.4.1" and params["ENV"] == "prod"
    assert params["DRY_RUN"] == "true"
    assert {"VERSION", "PREVIOUS_VERSION", "ENVIRONMENT"}.isdisjoint(params)
    assert backend.capabilities.dry_run is True


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"version": "v9"}, "parameter VERSION cannot be set from chat"),
        ({"region": "us"}, "parameter REGION cannot be set from chat"),
        ({"a b": "1"}, "parameter name 'a b' is not allowed"),
    ],
)
async def test_chat_extras_cannot_replace_parameters(
    api: FakeJenkins, make: Make, params: dict[str, str], words: str
) -> None:
    with pytest.raises(PermanentDelivery, match=words):
        await make().start(request(params=params))
    assert api.posted("buildWithParameters") == []


async def test_a_repeated_start_does_not_build_twice(api: FakeJenkins, make: Make) -> None:
    backend = make()
    first, queue_id = await started(backend, api)
    again = await backend.start(request())  # still queued: Jenkins folds it into the item
    assert again.id == first.id

    api.run_queue_item(queue_id)
    after_build = await backend.start(request())  # built: the build carrying the run id
    assert after_build.id == "build:1"
    assert after_build.data["build"] == 1
    assert after_build.url == f"{api.base_url}/job/team/job/deploy-orders/1/"
    assert len(api.queue) == 1 and len(api.builds) == 1


# -- queue → build → result ------------------------------------------------------------------


async def test_a_run_from_queue_to_success(api: FakeJenkins, make: Make, clock: FakeClock) -> None:
    backend = make()
    ref, queue_id = await started(backend, api)
    assert await backend.refresh(ref, request()) is None  # still queued

    api.run_queue_item(queue_id, started_ms=START_MS - 30_000, estimated_ms=120_000)
    refreshed = await backend.refresh(ref, request())
    assert refreshed is not None
    assert refreshed.id == ref.id
    assert refreshed.data["build"] == 1 and refreshed.data["queue_id"] == queue_id
    assert refreshed.url == f"{api.base_url}/job/team/job/deploy-orders/1/"

    api.log(JOB, 1, "".join(f"deploying step {i}\n" for i in range(30)) + "half a li")
    running = await backend.status(ref, request())  # the old ref finds the build too
    assert running.phase is Phase.RUNNING
    assert running.message == "build #1 running"
    assert running.progress == pytest.approx(0.25)
    assert running.url == refreshed.url
    lines = running.log_tail.splitlines()
    assert len(lines) == 20 and lines[-1] == "half a li" and lines[0] == "deploying step 11"

    api.log(JOB, 1, "ne\n\x1b[32mdone\x1b[0m\n")
    api.finish(JOB, 1, "SUCCESS")
    done = await backend.status(refreshed, request())
    assert done.phase is Phase.SUCCEEDED
    assert done.message == "build #1 succeeded" and done.progress == 1.0
    assert done.log_tail.splitlines()[-3:] == ["half a line", "done", "Finished: SUCCESS"]
    # only the new bytes were asked for once the console was being followed
    starts = [form(p).get("start") for m, p in api.requests if "progressiveText" in p]
    assert starts[0] == "0" and all(s != "0" for s in starts[1:])


@pytest.mark.parametrize(
    ("result", "phase", "message"),
    [
        ("FAILURE", Phase.FAILED, "build #1 failed"),
        ("UNSTABLE", Phase.FAILED, "build #1 is unstable"),
        ("ABORTED", Phase.CANCELLED, "build #1 was aborted"),
        ("NOT_BUILT", Phase.CANCELLED, "build #1 was not built"),
    ],
)
async def test_results(
    api: FakeJenkins, make: Make, result: str, phase: Phase, message: str
) -> None:
    backend = make()
    ref, queue_id = await started(backend, api)
    api.run_queue_item(queue_id)
    api.finish(JOB, 1, result)

    status = await backend.status(ref, request())
    assert (status.phase, status.message) == (phase, message)
    assert status.log_tail.endswith(f"Finished: {result}")


async def test_cancelled_in_the_queue_by_someone_else(api: FakeJenkins, make: Make) -> None:
    backend = make()
    ref, queue_id = await started(backend, api)
    api.queue[queue_id].cancelled = True

    status = await backend.status(ref, request())
    assert status.phase is Phase.CANCELLED
    assert status.message == "cancelled in Jenkins's queue"


# -- restarts --------------------------------------------------------------------------------


async def test_a_new_instance_polls_the_stored_ref(api: FakeJenkins, make: Make) -> None:
    first = make()
    ref, queue_id = await started(first, api)
    api.run_queue_item(queue_id)
    stored = await first.refresh(ref, request())
    assert stored is not None
    api.forget_queue_item(queue_id)  # more than 5 minutes later
    api.finish(JOB, 1, "FAILURE")

    seen = len(api.requests)
    status = await make().status(stored, request())
    assert (status.phase, status.message) == (Phase.FAILED, "build #1 failed")
    assert not any("/queue/" in path for _method, path in api.requests[seen:])


async def test_a_forgotten_queue_item_is_found_by_the_run_id(api: FakeJenkins, make: Make) -> None:
    ref, queue_id = await started(make(), api)
    api.run_queue_item(queue_id)
    api.forget_queue_item(queue_id)

    later = make()
    refreshed = await later.refresh(ref, request())
    assert refreshed is not None and refreshed.data["build"] == 1
    status = await later.status(ref, request())
    assert (status.phase, status.message) == (Phase.RUNNING, "build #1 running")


async def test_a_queue_item_lost_without_a_build(
    api: FakeJenkins, make: Make, clock: FakeClock
) -> None:
    backend = make()
    ref, queue_id = await started(backend, api)
    api.forget_queue_item(queue_id)

    soon = await backend.status(ref, request())
    assert (soon.phase, soon.message) == (Phase.RUNNING, "waiting for Jenkins's queue")

    clock.advance(timedelta(minutes=10))
    lost = await make().status(ref, request())
    assert lost.phase is Phase.FAILED
    assert lost.message.startswith(f"Jenkins no longer knows queue item {queue_id}")
    assert "or Jenkins restarted" in lost.message


# -- cancel ----------------------------------------------------------------------------------


async def test_cancel_while_queued(api: FakeJenkins, make: Make) -> None:
    backend = make()
    ref, queue_id = await started(backend, api)

    await backend.cancel(ref, request())
    assert api.posted("/queue/cancelItem") == [f"/queue/cancelItem?id={queue_id}"]
    assert (await backend.status(ref, request())).phase is Phase.CANCELLED
    await backend.cancel(ref, request())  # the engine repeats it until the run has ended
    assert len(api.posted("/queue/cancelItem")) == 1


async def test_cancel_a_running_build(api: FakeJenkins, make: Make) -> None:
    backend = make()
    ref, queue_id = await started(backend, api)
    api.run_queue_item(queue_id)

    await backend.cancel(ref, request())
    assert api.posted("/stop") == ["/job/team/job/deploy-orders/1/stop"]
    assert api.posted("/queue/cancelItem") == []
    status = await backend.status(ref, request())
    assert (status.phase, status.message) == (Phase.CANCELLED, "build #1 was aborted")


async def test_cancel_when_the_item_just_left_the_queue(api: FakeJenkins, make: Make) -> None:
    backend = make()
    ref, queue_id = await started(backend, api)
    assert (await backend.status(ref, request())).phase is Phase.RUNNING
    api.run_queue_item(queue_id)
    api.forget_queue_item(queue_id)
    api.queue[queue_id].build = None  # the answer we had said "queued"; Jenkins moved on

    # a new instance: its only knowledge is that the item was queued
    await make().cancel(ref, request())
    assert api.builds[(JOB, 1)].result == "ABORTED"


# -- errors ----------------------------------------------------------------------------------


async def test_a_wrong_token_is_permanent_and_not_repeated(api: FakeJenkins, make: Make) -> None:
    backend = make(api_token="wrong-token-0123456789")
    with pytest.raises(PermanentDelivery) as caught:
        await backend.start(request())
    assert "HTTP 401" in str(caught.value)
    assert "wrong-token" not in str(caught.value) and TOKEN not in str(caught.value)


async def test_an_unknown_job_is_permanent(api: FakeJenkins, make: Make) -> None:
    with pytest.raises(PermanentDelivery, match="not found in Jenkins"):
        await make().start(request(target={"job": "team/nope"}))


async def test_a_bad_target_is_permanent(make: Make) -> None:
    with pytest.raises(PermanentDelivery, match="jenkins: bad target: job: required key"):
        await make().start(request(target={}))


async def test_overload_and_outages_are_retryable(api: FakeJenkins, make: Make) -> None:
    backend = make()
    ref, _queue_id = await started(backend, api)
    api.fail_next(429, **{"Retry-After": "30"})
    with pytest.raises(RetryableDelivery) as caught:
        await backend.status(ref, request())
    assert caught.value.retry_after == 30.0

    api.fail_next(503)
    with pytest.raises(RetryableDelivery, match="HTTP 503"):
        await backend.status(ref, request())


async def test_a_silent_jenkins_times_out(api: FakeJenkins, make: Make) -> None:
    backend = make(timeout="100ms")
    api.hold("api")
    with pytest.raises(RetryableDelivery, match="timed out"):
        await backend.start(request())


async def test_nothing_listening_is_retryable(make: Make) -> None:
    backend = jenkins.create("x", section("http://127.0.0.1:9"), clock=FakeClock())
    try:
        with pytest.raises(RetryableDelivery, match="ConnectError"):
            await backend.start(request())
    finally:
        await backend.aclose()
    assert await backend.artifact_exists(request()) is None
