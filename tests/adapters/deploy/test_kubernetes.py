"""The Kubernetes backend with the official client against a fake API server on 127.0.0.1: patch
of the pod template, kubectl's rollout-status rules, pause as cancel, errors, a new backend
instance polling a run an earlier one started, and canary stages on a second Deployment."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_kubernetes import SMP, TOKEN, FakeKubernetes
from fake_kubernetes_objects import deployment
from kubernetes_support import Make, backends, run_request

from adapters.deploy import kubernetes
from adapters.deploy.kubernetes import KubernetesBackend
from bot.clock import FakeClock
from bot.errors import ConfigError, PermanentDelivery, RetryableDelivery
from bot.ports import DeployRequest, Phase, RunRef

TARGET = {
    "namespace": "shop",
    "deployment": "orders",
    "container": "app",
    "image": "registry.example.com/shop/orders",
}
CANARY_TARGET = {**TARGET, "canary_deployment": "orders-canary"}
IMAGE = "registry.example.com/shop/orders"


def request(**changes: Any) -> DeployRequest:
    return run_request(TARGET, **changes)


@pytest.fixture
async def api() -> AsyncIterator[FakeKubernetes]:
    server = FakeKubernetes()
    await server.start()
    server.add(deployment())
    yield server
    await server.close()


@pytest.fixture
def canary(api: FakeKubernetes) -> dict[str, Any]:
    """The canary Deployment, idle: the stable release at 0 replicas, its pods the Service's
    ``app: orders`` plus ``track: canary``."""
    labels = {"app": "orders", "track": "canary"}
    return api.add(deployment("orders-canary", labels=labels, replicas=0))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make(api: FakeKubernetes, clock: FakeClock) -> AsyncIterator[Make]:
    async with backends(api, clock) as build:
        yield build


async def test_deploy_patches_the_image_and_follows_the_rollout(
    api: FakeKubernetes, make: Make
) -> None:
    backend = make()
    req = request()
    ref = await backend.start(req)

    assert api.image("shop", "orders") == "registry.example.com/shop/orders:1.4.2"
    assert api.image("shop", "orders", "envoy") == "envoyproxy/envoy:v1.31.0"
    [(_, dry_run)] = api.patches
    assert dry_run is None
    template = api.deployments[("shop", "orders")]["spec"]["template"]
    assert template["metadata"]["annotations"]["tocsin.dev/run-id"] == "run-42"
    cause = "Tocsin run-42: deploy orders 1.4.2 requested by alice"
    assert template["metadata"]["annotations"]["kubernetes.io/change-cause"] == cause
    assert ref.data["generation"] == 2
    assert ref.data["namespace"] == "shop" and ref.data["deployment"] == "orders"

    first = await backend.status(ref, req)
    assert first.phase is Phase.RUNNING
    assert "controller" in first.message
    seen = []
    for _ in range(20):
        done = api.advance("shop", "orders")
        status = await backend.status(ref, req)
        seen.append(status.message)
        if done:
            break
    assert status.phase is Phase.SUCCEEDED
    assert status.progress == 1.0
    assert "0/3 updated, 3 available" in seen[0]
    assert any("1/3 updated, 3 available" in m for m in seen)
    assert any("old pending termination" in m for m in seen)
    assert status.message == "3/3 updated, 3 available: rollout complete"


async def test_start_is_idempotent_on_the_run_id(api: FakeKubernetes, make: Make) -> None:
    backend = make()
    first = await backend.start(request())
    again = await make().start(request())
    assert len(api.patches) == 1
    assert again.data["generation"] == first.data["generation"]


async def test_rollback_repatches_the_recorded_version(api: FakeKubernetes, make: Make) -> None:
    backend = make()
    await backend.start(request())
    api.complete("shop", "orders")
    back = request(run_id="run-43", action="rollback", version="1.4.1", previous="1.4.2")
    ref = await backend.start(back)
    assert api.image("shop", "orders") == "registry.example.com/shop/orders:1.4.1"
    api.complete("shop", "orders")
    assert (await backend.status(ref, back)).phase is Phase.SUCCEEDED
    assert await backend.current_version(TARGET) == "1.4.1"
    revisions = await backend.revisions(TARGET)
    assert [r for r, _ in revisions] == [3, 2, 1]
    assert [image for _, image in revisions] == [
        "registry.example.com/shop/orders:1.4.1",
        "registry.example.com/shop/orders:1.4.2",
        "registry.example.com/shop/orders:1.4.1",
    ]


async def test_revisions_ignore_replicasets_of_other_owners(
    api: FakeKubernetes, make: Make
) -> None:
    other = deployment("orders", "shop")  # same labels, another owner (a leftover)
    api.replicasets.append(
        {
            **api.replicasets[0],
            "metadata": {
                **api.replicasets[0]["metadata"],
                "name": "orders-stray",
                "ownerReferences": [
                    {
                        **api.replicasets[0]["metadata"]["ownerReferences"][0],
                        "uid": other["metadata"]["uid"],
                    }
                ],
            },
        }
    )
    assert [r for r, _ in await make().revisions(TARGET)] == [1]


async def test_dry_run_asks_the_api_server_and_changes_nothing(
    api: FakeKubernetes, make: Make
) -> None:
    backend = make()
    req = request(dry_run=True)
    ref = await backend.start(req)
    [(_, dry_run)] = api.patches
    assert dry_run == "All"
    assert api.image("shop", "orders") == "registry.example.com/shop/orders:1.4.1"
    status = await backend.status(ref, req)
    assert status.phase is Phase.SUCCEEDED
    assert "dry run" in status.message and "nothing changed" in status.message


async def test_progress_deadline_exceeded_fails_the_run(api: FakeKubernetes, make: Make) -> None:
    backend = make()
    req = request()
    ref = await backend.start(req)
    api.advance("shop", "orders")
    api.exceed_deadline("shop", "orders")
    status = await backend.status(ref, req)
    assert status.phase is Phase.FAILED
    assert "progress deadline exceeded" in status.message
    assert "has timed out progressing" in status.message


async def test_tocsins_own_deadline_fails_a_slow_rollout(
    api: FakeKubernetes, make: Make, clock: FakeClock
) -> None:
    backend = make(progress_deadline="5m")
    req = request()
    ref = await backend.start(req)
    api.advance("shop", "orders")
    api.advance("shop", "orders")
    assert (await backend.status(ref, req)).phase is Phase.RUNNING
    clock.advance(timedelta(minutes=6))
    status = await backend.status(ref, req)
    assert status.phase is Phase.FAILED
    assert status.message.startswith("not finished within 5m: 1/3 updated")


async def test_cancel_pauses_the_rollout(api: FakeKubernetes, make: Make) -> None:
    backend = make()
    req = request()
    ref = await backend.start(req)
    api.advance("shop", "orders")
    api.advance("shop", "orders")
    await backend.cancel(ref, req)
    body = api.deployments[("shop", "orders")]
    assert body["spec"]["paused"] is True
    status = await backend.status(ref, req)
    assert status.phase is Phase.CANCELLED
    assert "paused by Tocsin at 1/3 updated" in status.message

    back = request(run_id="run-43", action="rollback", version="1.4.1")
    await backend.start(back)  # Tocsin's pause is lifted by the next run
    resumed = api.deployments[("shop", "orders")]
    assert resumed["spec"]["paused"] is False
    assert "tocsin.dev/paused-by" not in resumed["metadata"]["annotations"]


async def test_cancel_leaves_someone_elses_rollout_alone(api: FakeKubernetes, make: Make) -> None:
    backend = make()
    req = request()
    ref = await backend.start(req)
    await backend.start(request(run_id="run-44", version="1.5.0"))
    await backend.cancel(ref, req)
    assert not api.deployments[("shop", "orders")]["spec"].get("paused")
    status = await backend.status(ref, req)
    assert status.phase is Phase.FAILED
    assert "changed since, by run run-44" in status.message


async def test_a_new_instance_polls_an_earlier_run(
    api: FakeKubernetes, make: Make, clock: FakeClock
) -> None:
    req = request()
    ref = await make().start(req)
    stored = RunRef(id=ref.id, url=ref.url, data=dict(ref.data))  # as the engine keeps it
    api.complete("shop", "orders")
    restarted = make()
    status = await restarted.status(stored, req)
    assert status.phase is Phase.SUCCEEDED
    assert ref.id == "shop/orders@2"


async def test_the_token_is_sent_as_a_bearer_and_a_wrong_one_is_permanent(
    api: FakeKubernetes, make: Make
) -> None:
    with pytest.raises(PermanentDelivery) as caught:
        await make(token="wrong-token-value").start(request())
    assert "HTTP 401" in str(caught.value)
    assert "wrong-token-value" not in str(caught.value)
    assert TOKEN not in str(caught.value)


async def test_rbac_refusal_is_permanent_and_names_the_verb(
    api: FakeKubernetes, make: Make
) -> None:
    api.forbidden.add("patch")
    with pytest.raises(PermanentDelivery, match=r"HTTP 403: .*cannot patch resource"):
        await make().start(request())


async def test_unknown_deployment_and_container_are_permanent(
    api: FakeKubernetes, make: Make
) -> None:
    with pytest.raises(PermanentDelivery, match=r'deployments\.apps "billing" not found'):
        await make().start(request(target={**TARGET, "deployment": "billing"}))
    with pytest.raises(PermanentDelivery, match="no container 'web'"):
        await make().start(request(target={**TARGET, "container": "web"}))
    with pytest.raises(PermanentDelivery, match="not a valid image tag"):
        await make().start(request(version="1.4.2; rm -rf"))
    assert api.patches == []


async def test_throttling_and_server_errors_are_retryable(api: FakeKubernetes, make: Make) -> None:
    backend = make()
    api.fail(429, retry_after=7)
    with pytest.raises(RetryableDelivery) as caught:
        await backend.start(request())
    assert caught.value.retry_after == 7
    api.fail(503)
    with pytest.raises(RetryableDelivery, match="HTTP 503"):
        await backend.start(request())
    assert (await backend.start(request())).data["generation"] == 2


async def test_timeouts_and_refused_connections_are_retryable(
    api: FakeKubernetes, make: Make
) -> None:
    api.hold("get deployments")
    with pytest.raises(RetryableDelivery, match="did not answer"):
        await make(timeout="200ms").start(request())
    closed = FakeKubernetes()
    await closed.start()
    port = closed.port
    await closed.close()
    with pytest.raises(RetryableDelivery, match="did not answer"):
        await make(api_url=f"http://127.0.0.1:{port}").start(request())


async def test_tls_trouble_is_permanent(api: FakeKubernetes, make: Make) -> None:
    with pytest.raises(PermanentDelivery, match="TLS failed"):  # TLS to a plain HTTP port
        await make(api_url=f"https://127.0.0.1:{api.port}").start(request())


async def test_proxy_and_kubeconfig_in_the_environment_are_ignored(
    api: FakeKubernetes, make: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert (await make().start(request())).data["generation"] == 2


async def test_a_deleted_deployment_fails_the_run(api: FakeKubernetes, make: Make) -> None:
    backend = make()
    ref = await backend.start(request())
    del api.deployments[("shop", "orders")]
    status = await backend.status(ref, request())
    assert status.phase is Phase.FAILED
    assert status.message == "the Deployment shop/orders no longer exists"


def test_settings_problems_are_named_by_key() -> None:
    assert kubernetes.validate({"api_url": "https://k8s.example.com:6443"}) == []
    assert kubernetes.validate({"api_url": "http://k8s.example.com", "tokn": "x"}) == [
        "api_url: must be an https:// URL (http:// only to 127.0.0.1 or localhost)",
        "tokn: unknown key (check its spelling against config/example.yaml)",
    ]
    assert kubernetes.validate({"api_url": "https://k", "timeout": "soon"}) == [
        "timeout: not a duration: 'soon' (use e.g. 90s, 30m, 2h, 1d)"
    ]
    assert kubernetes.validate_target(TARGET) == []
    assert kubernetes.validate_target({**TARGET, "image": "registry:5000/orders:1.0"}) == [
        "image: give the repository without a tag or digest (the version is the tag)"
    ]
    assert kubernetes.validate_target({"namespace": "Shop"}) == [
        "namespace: String should match pattern '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'",
        "deployment: required key is missing",
        "container: required key is missing",
        "image: required key is missing",
    ]
    assert kubernetes.validate_target({**TARGET, "image": "registry:5000/orders"}) == []
    with pytest.raises(ConfigError):
        kubernetes.create("k", {}, clock=FakeClock())


def test_capabilities() -> None:
    caps = KubernetesBackend.capabilities
    assert (caps.dry_run, caps.cancel, caps.native_rollback, caps.canary) == (
        True,
        True,
        False,
        True,
    )
    assert SMP == "application/strategic-merge-patch+json"


# --- canary stages ---


def canary_request(**changes: Any) -> DeployRequest:
    return request(**{"target": CANARY_TARGET, "stage": "canary", "canary_weight": 20, **changes})


def patched(api: FakeKubernetes) -> list[str]:
    """The Deployments patched so far, in order."""
    return [call.rsplit("/", 1)[1] for call in api.calls if call.startswith("PATCH ")]


async def test_canary_deploy_patches_and_scales_the_canary_only(
    api: FakeKubernetes, make: Make, canary: dict[str, Any]
) -> None:
    stable = copy.deepcopy(api.deployments[("shop", "orders")])
    backend = make()
    req = canary_request(canary_weight=50)
    ref = await backend.start(req)

    assert api.deployments[("shop", "orders")] == stable
    assert patched(api) == ["orders-canary"]
    body = api.deployments[("shop", "orders-canary")]
    assert body["spec"]["replicas"] == 3
    assert api.image("shop", "orders-canary") == f"{IMAGE}:1.4.2"
    assert api.image("shop", "orders-canary", "envoy") == "envoyproxy/envoy:v1.31.0"
    annotations = body["spec"]["template"]["metadata"]["annotations"]
    assert annotations["tocsin.dev/run-id"] == "run-42"
    cause = "Tocsin run-42: canary deploy orders 1.4.2 at 50% requested by alice"
    assert annotations["kubernetes.io/change-cause"] == cause
    assert ref.id == "shop/orders-canary@2"
    assert ref.data["deployment"] == "orders-canary" and ref.data["replicas"] == 3

    assert (await backend.status(ref, req)).phase is Phase.RUNNING
    api.complete("shop", "orders-canary")
    status = await backend.status(ref, req)
    assert status.phase is Phase.SUCCEEDED
    assert status.message == "3/3 updated, 3 available: rollout complete"
    assert await backend.current_version(CANARY_TARGET) == "1.4.1"  # the stable release


@pytest.mark.parametrize(
    ("stable", "weight", "replicas"),
    [(4, 20, 1), (9, 10, 1), (3, 50, 3), (10, 25, 3), (2, 90, 18), (0, 5, 1), (None, 50, 1)],
)
async def test_the_canary_gets_its_weights_share_of_the_pods(
    api: FakeKubernetes,
    make: Make,
    canary: dict[str, Any],
    stable: int | None,
    weight: int,
    replicas: int,
) -> None:
    spec = api.deployments[("shop", "orders")]["spec"]
    if stable is None:
        del spec["replicas"]  # the API server's default is 1
    else:
        spec["replicas"] = stable
    await make().start(canary_request(canary_weight=weight))
    assert api.deployments[("shop", "orders-canary")]["spec"]["replicas"] == replicas


async def test_canary_rollback_scales_the_canary_to_0(
    api: FakeKubernetes, make: Make, canary: dict[str, Any]
) -> None:
    backend = make()
    await backend.start(canary_request())
    api.complete("shop", "orders-canary")
    back = canary_request(
        run_id="run-43", action="rollback", version="1.4.1", previous="1.4.2", canary_weight=0
    )
    ref = await backend.start(back)
    body = api.deployments[("shop", "orders-canary")]
    assert body["spec"]["replicas"] == 0
    assert api.image("shop", "orders-canary") == f"{IMAGE}:1.4.1"
    assert patched(api) == ["orders-canary", "orders-canary"]

    api.advance("shop", "orders-canary")  # the controller sees the change
    running = await backend.status(ref, back)
    assert running.phase is Phase.RUNNING
    assert running.message == "scaling to 0: 1 pod(s) left"
    api.complete("shop", "orders-canary")
    done = await backend.status(ref, back)
    assert (done.phase, done.message) == (Phase.SUCCEEDED, "scaled to 0: no pods left")

    again = await make().start(back)  # the same run started again: nothing patched twice
    assert again.id == ref.id
    assert patched(api) == ["orders-canary", "orders-canary"]
    assert (await backend.status(again, back)).phase is Phase.SUCCEEDED


async def test_a_canary_run_started_twice_patches_once(
    api: FakeKubernetes, make: Make, canary: dict[str, Any]
) -> None:
    first = await make().start(canary_request())
    again = await make().start(canary_request())
    assert patched(api) == ["orders-canary"]
    assert again.id == first.id == "shop/orders-canary@2"


async def test_a_full_deploy_rolls_the_stable_one_and_scales_the_canary_to_0(
    api: FakeKubernetes, make: Make, canary: dict[str, Any]
) -> None:
    backend = make()
    await backend.start(canary_request())
    api.complete("shop", "orders-canary")
    promote = request(run_id="run-43", target=CANARY_TARGET)
    ref = await backend.start(promote)

    assert api.image("shop", "orders") == f"{IMAGE}:1.4.2"
    body = api.deployments[("shop", "orders-canary")]
    assert body["spec"]["replicas"] == 0
    assert body["spec"]["template"]["metadata"]["annotations"]["tocsin.dev/run-id"] == "run-43"
    assert ref.id == "shop/orders@2"
    assert patched(api) == ["orders-canary", "orders", "orders-canary"]

    await make().start(promote)  # started again: neither is patched twice
    assert len(api.patches) == 3
    api.complete("shop", "orders")
    api.complete("shop", "orders-canary")
    assert (await backend.status(ref, promote)).phase is Phase.SUCCEEDED
    assert api.pods[("shop", "orders-canary")].new_ready == 0
    assert [r for r, _ in await backend.revisions(CANARY_TARGET)] == [2, 1]


async def test_a_canary_that_cannot_be_patched_stops_the_run_before_the_stable_one_rolls(
    api: FakeKubernetes, make: Make
) -> None:
    with pytest.raises(PermanentDelivery, match=r'deployments\.apps "orders-canary" not found'):
        await make().start(request(target=CANARY_TARGET))
    renamed = deployment("orders-canary", replicas=0)
    renamed["spec"]["template"]["spec"]["containers"][0]["name"] = "server"
    api.add(renamed)
    with pytest.raises(PermanentDelivery, match="orders-canary has no container 'app'"):
        await make().start(request(target=CANARY_TARGET))
    assert api.patches == []


async def test_a_canary_stage_needs_a_canary_deployment(api: FakeKubernetes, make: Make) -> None:
    with pytest.raises(PermanentDelivery, match="target setting canary_deployment"):
        await make().start(request(stage="canary", canary_weight=20))
    with pytest.raises(PermanentDelivery, match="canary weight must be 1–99 percent, not 100"):
        await make().start(canary_request(canary_weight=100))
    with pytest.raises(PermanentDelivery, match="unknown deploy stage 'blue'"):
        await make().start(request(target=CANARY_TARGET, stage="blue"))
    assert api.patches == []


async def test_a_canary_dry_run_asks_the_api_server_and_changes_nothing(
    api: FakeKubernetes, make: Make, canary: dict[str, Any]
) -> None:
    before = copy.deepcopy(api.deployments)
    backend = make()
    req = canary_request(dry_run=True)
    status = await backend.status(await backend.start(req), req)
    assert status.message == (
        f"dry run: the API server accepted {IMAGE}:1.4.2 for shop/orders-canary at 1 replica(s);"
        " nothing changed"
    )
    full = request(target=CANARY_TARGET, dry_run=True)
    status = await backend.status(await backend.start(full), full)
    assert status.message == (
        f"dry run: the API server accepted {IMAGE}:1.4.2 for shop/orders, and 0 replicas for "
        "shop/orders-canary; nothing changed"
    )
    assert [dry_run for _, dry_run in api.patches] == ["All", "All", "All"]
    assert api.deployments == before


async def test_cancel_of_a_canary_run_pauses_the_canary(
    api: FakeKubernetes, make: Make, canary: dict[str, Any]
) -> None:
    backend = make()
    req = canary_request(canary_weight=50)
    ref = await backend.start(req)
    api.advance("shop", "orders-canary")
    api.advance("shop", "orders-canary")
    await backend.cancel(ref, req)
    assert api.deployments[("shop", "orders-canary")]["spec"]["paused"] is True
    assert not api.deployments[("shop", "orders")]["spec"].get("paused")
    status = await backend.status(ref, req)
    assert status.phase is Phase.CANCELLED
    assert "paused by Tocsin at 1/3 updated" in status.message

    back = canary_request(run_id="run-43", action="rollback", version="1.4.1", canary_weight=0)
    await backend.start(back)  # the canary's rollback lifts Tocsin's pause
    assert api.deployments[("shop", "orders-canary")]["spec"]["paused"] is False


def test_the_canary_deployment_setting_is_checked() -> None:
    assert kubernetes.validate_target(CANARY_TARGET) == []
    assert kubernetes.validate_target({**TARGET, "canary_deployment": "orders"}) == [
        "canary_deployment: must differ from deployment (the canary is a second Deployment)"
    ]
    assert kubernetes.validate_target({**TARGET, "canary_deployment": "Orders_Canary"}) == [
        "canary_deployment: String should match pattern "
        "'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'"
    ]


def test_the_workload_settings_are_checked() -> None:
    assert kubernetes.validate_target({**TARGET, "workload": "rollout"}) == []
    flagger = {**TARGET, "workload": "flagger", "flagger_canary": "orders-analysis"}
    assert kubernetes.validate_target(flagger) == []
    assert kubernetes.validate_target({**TARGET, "workload": "statefulset"}) == [
        "workload: Input should be 'deployment', 'rollout' or 'flagger'"
    ]
    only_deployments = (
        "canary_deployment: only with workload deployment (a Rollout or a Flagger Canary runs "
        "its own canary)"
    )
    for workload in ("rollout", "flagger"):
        assert kubernetes.validate_target({**CANARY_TARGET, "workload": workload}) == [
            only_deployments
        ]
    for workload in ("deployment", "rollout"):
        assert kubernetes.validate_target({**flagger, "workload": workload}) == [
            "flagger_canary: only with workload flagger"
        ]
