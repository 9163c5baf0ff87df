"""The Kubernetes backend on an Argo Rollouts Rollout (``workload: rollout``) with the official
client against the fake API server: merge patches of the whole containers list, promotion by
``promoteFull``, canary stages that end at the Rollout's pause step, their removal by abort,
cancel by pause."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fake_kubernetes import FakeKubernetes
from fake_kubernetes_objects import rollout
from kubernetes_support import Make, backends, run_request

from bot.clock import FakeClock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import DeployRequest, Phase

IMAGE = "registry.example.com/shop/orders"
TARGET = {
    "namespace": "shop",
    "deployment": "orders",
    "container": "app",
    "image": IMAGE,
    "workload": "rollout",
}
KEY = ("shop", "orders")


def request(**changes: Any) -> DeployRequest:
    return run_request(TARGET, **changes)


def canary_request(**changes: Any) -> DeployRequest:
    return request(**{"stage": "canary", "canary_weight": 10, **changes})


def removal(**changes: Any) -> DeployRequest:
    """The canary's removal after run-42's canary stage."""
    base = {"run_id": "run-43", "action": "rollback", "version": "1.4.1", "canary_weight": 0}
    return canary_request(**{**base, **changes})


@pytest.fixture
async def api() -> AsyncIterator[FakeKubernetes]:
    server = FakeKubernetes()
    await server.start()
    server.rollouts[KEY] = rollout()
    yield server
    await server.close()


@pytest.fixture
async def make(api: FakeKubernetes) -> AsyncIterator[Make]:
    async with backends(api, FakeClock()) as build:
        yield build


def template(api: FakeKubernetes) -> dict[str, Any]:
    found: dict[str, Any] = api.rollouts[KEY]["spec"]["template"]
    return found


def images(api: FakeKubernetes) -> dict[str, str]:
    return {c["name"]: c["image"] for c in template(api)["spec"]["containers"]}


def patched(api: FakeKubernetes) -> list[str]:
    """The paths patched so far, in order, from the namespace on."""
    return [call.split("/shop/", 1)[1] for call in api.calls if call.startswith("PATCH ")]


async def test_deploy_patches_only_our_container_and_follows_the_rollout(
    api: FakeKubernetes, make: Make
) -> None:
    backend = make()
    req = request()
    ref = await backend.start(req)

    assert images(api) == {"app": f"{IMAGE}:1.4.2", "envoy": "envoyproxy/envoy:v1.31.0"}
    [(body, dry_run)] = api.patches
    assert dry_run is None
    sent = body["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in sent] == ["app", "envoy"]  # the whole list, as read
    assert sent[0]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    annotations = template(api)["metadata"]["annotations"]
    assert annotations["tocsin.dev/run-id"] == "run-42"
    cause = "Tocsin run-42: deploy orders 1.4.2 requested by alice"
    assert annotations["kubernetes.io/change-cause"] == cause
    assert ref.id == "shop/orders@2"
    assert (ref.data["kind"], ref.data["owner"]) == ("full", "run-42")

    first = await backend.status(ref, req)
    assert (first.phase, first.message) == (
        Phase.RUNNING,
        "waiting for the Argo Rollouts controller to see the change",
    )
    api.sync_rollout(*KEY)
    paused = await backend.status(ref, req)
    assert paused.phase is Phase.RUNNING  # the Rollout's own pause: someone promotes it
    assert paused.message == "Paused at step 1/4, canary weight 20%: CanaryPauseStep"
    assert paused.progress == 0.25
    api.rollouts[KEY]["status"]["promoteFull"] = True  # kubectl argo rollouts promote --full
    api.sync_rollout(*KEY)
    done = await backend.status(ref, req)
    assert (done.phase, done.message, done.progress) == (
        Phase.SUCCEEDED,
        "Healthy: 4/4 available",
        1.0,
    )
    assert await backend.current_version(TARGET) == "1.4.2"


async def test_start_is_idempotent_on_the_run_id(api: FakeKubernetes, make: Make) -> None:
    first = await make().start(request())
    again = await make().start(request())
    assert len(api.patches) == 1
    assert again.id == first.id == "shop/orders@2"
    assert again.data["owner"] == "run-42"


async def test_a_change_made_between_read_and_patch_is_a_retryable_conflict(
    api: FakeKubernetes, make: Make
) -> None:
    release = api.hold("patch rollouts")
    start = asyncio.create_task(make().start(request()))
    while not any(call.startswith("PATCH ") for call in api.calls):
        await asyncio.sleep(0.01)
    api.rollouts[KEY]["metadata"]["resourceVersion"] = "2000"  # someone else's change
    release.set()
    with pytest.raises(RetryableDelivery, match="HTTP 409: Operation cannot be fulfilled"):
        await start
    assert images(api)["app"] == f"{IMAGE}:1.4.1"


async def test_a_canary_stage_ends_at_the_rollouts_pause_step(
    api: FakeKubernetes, make: Make
) -> None:
    backend = make()
    req = canary_request()
    ref = await backend.start(req)
    assert images(api)["app"] == f"{IMAGE}:1.4.2"
    cause = "Tocsin run-42: canary deploy orders 1.4.2 at 10% requested by alice"
    assert template(api)["metadata"]["annotations"]["kubernetes.io/change-cause"] == cause
    assert ref.data["kind"] == "canary"
    assert (await backend.status(ref, req)).phase is Phase.RUNNING

    api.sync_rollout(*KEY)
    status = await backend.status(ref, req)
    assert status.phase is Phase.SUCCEEDED
    assert status.message == (
        "canary up: paused at step 1/4, canary weight 20% (the Rollout's steps set the weight; "
        "Tocsin's 10% is not applied)"
    )


async def test_the_promotion_of_a_canary_stage_promotes_fully_and_leaves_the_template(
    api: FakeKubernetes, make: Make
) -> None:
    backend = make()
    await backend.start(canary_request())
    api.sync_rollout(*KEY)
    before = dict(template(api)["metadata"]["annotations"])
    promote = request(run_id="run-43")
    ref = await backend.start(promote)

    assert patched(api) == ["rollouts/orders", "rollouts/orders/status"]
    assert api.patches[-1][0] == {"status": {"promoteFull": True}}
    assert template(api)["metadata"]["annotations"] == before  # the canary is not restarted
    assert (ref.id, ref.data["kind"], ref.data["owner"]) == (
        "shop/orders@2:promote",
        "promote",
        "run-42",
    )
    waiting = await backend.status(ref, promote)
    assert waiting.phase is Phase.RUNNING
    assert waiting.message == "waiting for the Argo Rollouts controller to promote fully"

    api.sync_rollout(*KEY)
    assert (await backend.status(ref, promote)).phase is Phase.SUCCEEDED
    again = await make().start(promote)  # started again once promoted: nothing to do
    assert len(api.patches) == 2
    assert (await backend.status(again, promote)).phase is Phase.SUCCEEDED


async def test_the_removal_of_a_canary_aborts_the_rollout(api: FakeKubernetes, make: Make) -> None:
    backend = make()
    await backend.start(canary_request())
    api.sync_rollout(*KEY)
    back = removal()
    ref = await backend.start(back)

    assert api.patches[-1][0] == {"status": {"abort": True}}
    assert (ref.id, ref.data["kind"]) == ("shop/orders@2:abort", "abort")
    waiting = await backend.status(ref, back)
    assert (waiting.phase, waiting.message) == (
        Phase.RUNNING,
        "waiting for the Argo Rollouts controller to abort the canary",
    )
    api.sync_rollout(*KEY)
    done = await backend.status(ref, back)
    assert done.phase is Phase.SUCCEEDED
    assert done.message == (
        "canary aborted, the stable release serves: RolloutAborted: Rollout aborted update to "
        "revision 2"
    )
    assert images(api)["app"] == f"{IMAGE}:1.4.2"  # an abort leaves the template

    await make().start(back)  # started again: aborting twice changes nothing
    assert (await backend.status(ref, back)).phase is Phase.SUCCEEDED

    nxt = request(run_id="run-44", version="1.4.3")
    ref = await backend.start(nxt)  # the next release starts the steps over
    api.sync_rollout(*KEY)
    status = await backend.status(ref, nxt)
    assert (status.phase, status.message) == (
        Phase.RUNNING,
        "Paused at step 1/4, canary weight 20%: CanaryPauseStep",
    )


async def test_a_removal_without_a_canary_changes_nothing_or_is_refused(
    api: FakeKubernetes, make: Make
) -> None:
    backend = make()
    back = removal()
    ref = await backend.start(back)  # the Rollout is on the stable version already
    assert api.patches == []
    assert (await backend.status(ref, back)).phase is Phase.SUCCEEDED

    api.rollouts[KEY] = rollout(image=f"{IMAGE}:1.4.2")
    with pytest.raises(PermanentDelivery, match=r"no canary to take away: .* runs \S+:1.4.2 fully"):
        await backend.start(back)
    assert api.patches == []


async def test_a_canary_stage_needs_a_pause_step(api: FakeKubernetes, make: Make) -> None:
    api.rollouts[KEY] = rollout(steps=({"setWeight": 50},))
    with pytest.raises(PermanentDelivery, match=r"has no pause step in strategy\.canary\.steps"):
        await make().start(canary_request())
    with pytest.raises(PermanentDelivery, match="unknown deploy stage 'blue'"):
        await make().start(request(stage="blue"))
    assert api.patches == []


async def test_cancel_pauses_the_rollout_and_the_next_run_resumes_it(
    api: FakeKubernetes, make: Make
) -> None:
    backend = make()
    req = request()
    ref = await backend.start(req)
    api.sync_rollout(*KEY)
    await backend.cancel(ref, req)
    body = api.rollouts[KEY]
    assert body["spec"]["paused"] is True
    assert body["metadata"]["annotations"]["tocsin.dev/paused-by"] == "run-42"
    status = await backend.status(ref, req)
    assert status.phase is Phase.CANCELLED
    assert status.message.startswith("Rollout paused by Tocsin at step 1/4, canary weight 20%")

    await backend.start(request(run_id="run-43", action="rollback", version="1.4.1"))
    resumed = api.rollouts[KEY]
    assert resumed["spec"]["paused"] is False
    assert "tocsin.dev/paused-by" not in resumed["metadata"]["annotations"]


async def test_cancel_leaves_someone_elses_rollout_alone(api: FakeKubernetes, make: Make) -> None:
    backend = make()
    req = request()
    ref = await backend.start(req)
    await backend.start(request(run_id="run-44", version="1.5.0"))
    await backend.cancel(ref, req)
    assert not api.rollouts[KEY]["spec"].get("paused")
    status = await backend.status(ref, req)
    assert (status.phase, status.message) == (
        Phase.FAILED,
        "the Rollout was changed since, by run run-44",
    )


async def test_dry_runs_ask_the_api_server_and_change_nothing(
    api: FakeKubernetes, make: Make
) -> None:
    backend = make()
    req = request(dry_run=True)
    status = await backend.status(await backend.start(req), req)
    assert status.message == (
        f"dry run: the API server accepted {IMAGE}:1.4.2 for the Rollout shop/orders; "
        "nothing changed"
    )
    await backend.start(canary_request())
    api.sync_rollout(*KEY)
    promote = request(run_id="run-43", dry_run=True)
    status = await backend.status(await backend.start(promote), promote)
    assert status.message == (
        "dry run: the API server accepted a full promotion of the Rollout shop/orders; "
        "nothing changed"
    )
    assert [dry_run for _, dry_run in api.patches] == ["All", None, "All"]
    assert "promoteFull" not in api.rollouts[KEY]["status"]


async def test_missing_rollouts_and_containers_are_permanent(
    api: FakeKubernetes, make: Make
) -> None:
    backend = make()
    with pytest.raises(PermanentDelivery, match=r'rollouts\.argoproj\.io "billing" not found'):
        await backend.start(request(target={**TARGET, "deployment": "billing"}))
    with pytest.raises(PermanentDelivery, match="Rollout shop/orders has no container 'web'"):
        await backend.start(request(target={**TARGET, "container": "web"}))
    with pytest.raises(PermanentDelivery, match="revisions are Argo Rollouts' own"):
        await backend.revisions(TARGET)
    ref = await backend.start(request())
    del api.rollouts[KEY]
    status = await backend.status(ref, request())
    assert (status.phase, status.message) == (
        Phase.FAILED,
        "the Rollout shop/orders no longer exists",
    )
