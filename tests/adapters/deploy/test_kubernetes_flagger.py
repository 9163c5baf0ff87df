"""The Kubernetes backend on a Deployment that a Flagger Canary drives (``workload: flagger``),
with the official client against the fake API server: the Deployment is patched as usual, the
run follows the Canary's phase and is not fooled by the last release's, and a Tocsin canary
stage is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fake_kubernetes import FakeKubernetes
from fake_kubernetes_objects import deployment, flagger_canary
from kubernetes_support import Make, backends, run_request

from adapters.deploy.kubernetes_flagger import assess
from adapters.deploy.kubernetes_rollout import Watch
from bot.clock import FakeClock
from bot.errors import PermanentDelivery
from bot.ports import DeployRequest, Phase

IMAGE = "registry.example.com/shop/orders"
TARGET = {
    "namespace": "shop",
    "deployment": "orders",
    "container": "app",
    "image": IMAGE,
    "workload": "flagger",
}
KEY = ("shop", "orders")
LAST_RELEASE = "5f7b9c8d4"  # the Canary's lastAppliedSpec in `flagger_canary`


def request(**changes: Any) -> DeployRequest:
    return run_request(TARGET, **changes)


@pytest.fixture
async def api() -> AsyncIterator[FakeKubernetes]:
    server = FakeKubernetes()
    await server.start()
    server.add(deployment())
    server.canaries[KEY] = flagger_canary()
    yield server
    await server.close()


@pytest.fixture
async def make(api: FakeKubernetes) -> AsyncIterator[Make]:
    async with backends(api, FakeClock()) as build:
        yield build


async def test_the_run_follows_flaggers_canary_not_its_last_release(
    api: FakeKubernetes, make: Make
) -> None:
    backend = make()
    req = request()
    ref = await backend.start(req)

    assert api.image(*KEY) == f"{IMAGE}:1.4.2"
    annotations = api.deployments[KEY]["metadata"]["annotations"]
    assert annotations["tocsin.dev/flagger-last-applied"] == LAST_RELEASE
    assert (ref.data["workload"], ref.data["last_applied"]) == ("flagger", LAST_RELEASE)
    api.complete(*KEY)  # the Deployment is rolled out: still Flagger's to judge
    stale = await backend.status(ref, req)
    assert (stale.phase, stale.message) == (
        Phase.RUNNING,
        "waiting for Flagger to notice the new revision; its phase Succeeded is the last release's",
    )
    api.flagger_step(*KEY, "Progressing", weight=10)
    status = await backend.status(ref, req)
    assert (status.phase, status.message) == (
        Phase.RUNNING,
        "Flagger: Progressing, canary weight 10%",
    )
    api.flagger_step(*KEY, "Promoting", weight=50)
    assert (await backend.status(ref, req)).message == "Flagger: Promoting, canary weight 50%"
    api.flagger_step(*KEY, "Succeeded", message="Canary analysis completed successfully")
    done = await backend.status(ref, req)
    assert (done.phase, done.message) == (
        Phase.SUCCEEDED,
        "Flagger promoted the canary: Canary analysis completed successfully",
    )


async def test_a_failed_analysis_fails_the_run_with_flaggers_message(
    api: FakeKubernetes, make: Make
) -> None:
    backend = make()
    req = request()
    ref = await backend.start(req)
    api.flagger_step(*KEY, "Failed", message="Canary analysis failed, Deployment scaled to zero.")
    status = await backend.status(ref, req)
    assert (status.phase, status.message) == (
        Phase.FAILED,
        "Flagger's canary failed: Canary analysis failed, Deployment scaled to zero.",
    )


async def test_a_start_repeated_after_the_patch_keeps_what_the_canary_showed_before(
    api: FakeKubernetes, make: Make
) -> None:
    await make().start(request())
    api.flagger_step(*KEY, "Progressing", weight=20)
    again = await make().start(request())
    assert len(api.patches) == 1
    assert again.data["last_applied"] == LAST_RELEASE
    status = await make().status(again, request())
    assert status.message == "Flagger: Progressing, canary weight 20%"


async def test_a_canary_stage_is_refused(api: FakeKubernetes, make: Make) -> None:
    with pytest.raises(PermanentDelivery, match=r"Flagger runs the canary of shop/orders itself"):
        await make().start(request(stage="canary", canary_weight=10))
    assert api.patches == []


async def test_the_canary_may_have_its_own_name(api: FakeKubernetes, make: Make) -> None:
    target = {**TARGET, "flagger_canary": "orders-analysis"}
    with pytest.raises(PermanentDelivery, match=r'canaries\.flagger\.app "orders-analysis"'):
        await make().start(request(target=target))
    assert api.patches == []
    api.canaries[("shop", "orders-analysis")] = api.canaries.pop(KEY)
    ref = await make().start(request(target=target))
    assert ref.data["flagger_canary"] == "orders-analysis"
    api.flagger_step("shop", "orders-analysis", "Progressing")
    assert (await make().status(ref, request(target=target))).phase is Phase.RUNNING
    del api.canaries[("shop", "orders-analysis")]
    gone = await make().status(ref, request(target=target))
    assert (gone.phase, gone.message) == (
        Phase.FAILED,
        "the Flagger Canary shop/orders-analysis no longer exists",
    )


async def test_cancel_and_other_runs_are_the_deployments_rules(
    api: FakeKubernetes, make: Make
) -> None:
    backend = make()
    req = request()
    ref = await backend.start(req)
    await backend.cancel(ref, req)
    assert api.deployments[KEY]["spec"]["paused"] is True
    assert (await backend.status(ref, req)).phase is Phase.CANCELLED
    await backend.start(request(run_id="run-44", version="1.5.0"))
    status = await backend.status(ref, req)
    assert (status.phase, status.message) == (
        Phase.FAILED,
        "the Deployment was changed since, by run run-44",
    )


def test_every_phase_of_the_canary() -> None:
    start = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    watch = Watch(run_id="run-1", generation=2, started=start, deadline=timedelta(minutes=10))

    def phase(name: str, **status: Any) -> tuple[Phase, str]:
        canary = {"status": {"phase": name, "lastAppliedSpec": "new", **status}}
        result = assess(canary, "old", watch, start)
        return result.phase, result.message

    for running in ("", "Initializing", "Waiting", "WaitingPromotion", "Promoting", "Finalising"):
        assert phase(running)[0] is Phase.RUNNING
    assert phase("Initialized") == (
        Phase.SUCCEEDED,
        "Flagger made this release its primary (a first release has no analysis)",
    )
    assert phase("Progressing", canaryWeight=30, failedChecks=2) == (
        Phase.RUNNING,
        "Flagger: Progressing, canary weight 30%, 2 failed check(s)",
    )
    assert phase("Succeeded") == (Phase.SUCCEEDED, "Flagger promoted the canary")
    assert phase("Terminating") == (Phase.FAILED, "the Flagger Canary is terminating")
    late = assess({"status": {"phase": "Progressing"}}, "", watch, start + timedelta(minutes=11))
    assert late.phase is Phase.FAILED
    assert late.message.startswith("not finished within 10m: waiting for Flagger to notice")
