"""The Argo CD backend against the fake application API: set the version and sync, follow the
operation and the health, roll back through history (pausing auto-sync), terminate, and the
errors a chat user should understand."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
from fake_argocd import ARGO_TOKEN, FakeArgoCd

from adapters.deploy import argocd
from adapters.deploy.argocd import PAUSED, ArgoCdBackend
from bot.clock import FakeClock
from bot.errors import ConfigError, PermanentDelivery, RetryableDelivery
from bot.ports import DeployRequest, Phase, RunRef

APP = "orders-prod"
REPO = "https://github.com/acme/deploy.git"
Make = Callable[..., ArgoCdBackend]


def helm(tag: str, revision: str = "main") -> dict[str, Any]:
    params = [{"name": "image.tag", "value": tag}, {"name": "replicaCount", "value": "3"}]
    return {
        "repoURL": REPO,
        "path": "charts/orders",
        "targetRevision": revision,
        "helm": {"parameters": params},
    }


def request(
    version: str = "1.4.2", *, action: str = "deploy", dry_run: bool = False, **target: Any
) -> DeployRequest:
    return DeployRequest(
        run_id="run-42",
        action=action,
        service="orders",
        environment="prod",
        version=version,
        previous="1.4.1",
        target={"app": APP, "parameter": "helm:image.tag", **target},
        dry_run=dry_run,
        requested_by="alice",
    )


def source(api: FakeArgoCd) -> dict[str, Any]:
    return dict(api.apps[APP]["spec"]["source"])


@pytest.fixture
async def api() -> AsyncIterator[FakeArgoCd]:
    server = FakeArgoCd()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make(api: FakeArgoCd) -> AsyncIterator[Make]:
    made: list[ArgoCdBackend] = []

    def build(**overrides: Any) -> ArgoCdBackend:
        raw = {"url": api.base_url + "/", "token": ARGO_TOKEN, **overrides}
        made.append(argocd.create("argocd-prod", raw, clock=FakeClock()))
        return made[-1]

    yield build
    for backend in made:
        await backend.aclose()


async def test_deploy_sets_the_helm_parameter_syncs_and_waits_for_health(
    api: FakeArgoCd, make: Make
) -> None:
    api.add_app(APP, source=helm("1.4.1"))
    backend = make()
    ref = await backend.start(request())

    assert source(api)["helm"]["parameters"] == [
        {"name": "image.tag", "value": "1.4.2"},
        {"name": "replicaCount", "value": "3"},
    ]
    [sync] = api.calls_to("sync")
    assert sync["prune"] is False and sync["dryRun"] is False and sync["revision"] == "main"
    assert sync["infos"] == [{"name": "tocsin-run", "value": "run-42"}]
    assert ref.id == "run-42" and ref.url == f"{api.base_url}/applications/{APP}"
    assert ref.data["app"] == APP

    waiting = await backend.status(ref, request())
    assert waiting.phase is Phase.RUNNING and "waiting for Argo CD" in waiting.message
    api.begin(APP, "waiting for healthy state of apps/Deployment/orders")
    running = await backend.status(ref, request())
    assert running.phase is Phase.RUNNING and "apps/Deployment/orders" in running.message
    api.finish(APP, health="Progressing")
    assert (await backend.status(ref, request())).message.endswith("health Progressing")
    api.set_health(APP, "Healthy")
    done = await backend.status(ref, request())
    assert done.phase is Phase.SUCCEEDED and done.message == "synced (Synced) and Healthy"
    assert done.url == ref.url


async def test_health_counts_only_once_reconciled_after_the_sync(
    api: FakeArgoCd, make: Make
) -> None:
    api.add_app(APP, source=helm("1.4.1"))
    backend = make()
    ref = await backend.start(request())
    api.begin(APP)
    api.finish(APP, reconciled=False)
    api.apps[APP]["status"]["health"] = {"status": "Healthy"}  # stale, from before the sync
    assert "waiting for the health check" in (await backend.status(ref, request())).message
    api.set_health(APP, "Healthy")
    assert (await backend.status(ref, request())).phase is Phase.SUCCEEDED


async def test_failed_sync_and_degraded_health_fail_the_run(api: FakeArgoCd, make: Make) -> None:
    api.add_app(APP, source=helm("1.4.1"))
    backend = make()
    ref = await backend.start(request())
    api.begin(APP)
    api.finish(APP, "Failed", message="one or more objects failed to apply: bad manifest")
    failed = await backend.status(ref, request())
    assert failed.phase is Phase.FAILED
    assert failed.message == "sync Failed: one or more objects failed to apply: bad manifest"

    api.add_app("payments", source=helm("2.0.0"))
    other = await backend.start(request("2.0.1", app="payments"))
    api.begin("payments")
    api.finish("payments", health=None)
    api.set_health("payments", "Degraded", "Deployment exceeded its progress deadline")
    degraded = await backend.status(other, request(app="payments"))
    assert degraded.phase is Phase.FAILED
    assert "Degraded (Deployment exceeded its progress deadline)" in degraded.message


async def test_kustomize_image_keeps_the_mirror_and_revision_sets_the_target(
    api: FakeArgoCd, make: Make
) -> None:
    kustomize = {
        "repoURL": REPO,
        "path": "overlays/prod",
        "targetRevision": "v1.4.1",
        "kustomize": {"images": ["ghcr.io/acme/orders=registry.cn/acme/orders:1.4.1", "redis:7.2"]},
    }
    api.add_app(APP, source=kustomize)
    backend = make()
    await backend.start(request(parameter="kustomize-image:ghcr.io/acme/orders"))
    assert source(api)["kustomize"]["images"] == [
        "ghcr.io/acme/orders=registry.cn/acme/orders:1.4.2",
        "redis:7.2",
    ]
    api.begin(APP)
    api.finish(APP)

    await backend.start(replace(request("v1.4.3", parameter="revision"), run_id="run-43"))
    assert source(api)["targetRevision"] == "v1.4.3"
    assert api.calls_to("sync")[-1]["revision"] == "v1.4.3"


async def test_start_is_idempotent_on_the_run_id(api: FakeArgoCd, make: Make) -> None:
    api.add_app(APP, source=helm("1.4.1"))
    backend = make()
    first = await backend.start(request())
    again = await backend.start(request())  # e.g. the engine retried after a lost answer
    assert len(api.calls_to("sync")) == 1 and len(api.calls_to("patch")) == 1
    assert again.id == first.id
    api.begin(APP)
    assert (await backend.start(request())).data["app"] == APP
    assert len(api.calls_to("sync")) == 1


async def test_dry_run_changes_nothing_and_reports_the_plan(api: FakeArgoCd, make: Make) -> None:
    api.add_app(APP, source=helm("1.4.1"))
    backend = make()
    ref = await backend.start(request(dry_run=True))
    assert api.calls_to("patch") == []
    assert source(api) == helm("1.4.1")
    [sync] = api.calls_to("sync")
    assert sync["dryRun"] is True
    api.begin(APP)
    api.finish(APP)
    done = await backend.status(ref, request(dry_run=True))
    assert done.phase is Phase.SUCCEEDED
    assert done.message == (
        "dry run succeeded: successfully synced (all tasks run); "
        "would set helm:image.tag from 1.4.1 to 1.4.2"
    )
    assert api.apps[APP]["status"]["history"][-1]["source"] == helm("1.4.1")


async def test_rollback_pauses_auto_sync_and_uses_the_history_entry(
    api: FakeArgoCd, make: Make
) -> None:
    api.add_app(APP, source=helm("1.4.2"), versions=(helm("1.4.0"), helm("1.4.1")), automated=True)
    backend = make()
    ref = await backend.start(request("1.4.1", action="rollback"))

    assert "automated" not in api.apps[APP]["spec"]["syncPolicy"]
    note = json.loads(api.apps[APP]["metadata"]["annotations"][PAUSED])
    assert note == {"run": "run-42", "automated": {"prune": True, "selfHeal": True}}
    [rollback] = api.calls_to("rollback")
    assert rollback == {"name": APP, "id": 1, "dryRun": False, "prune": False}
    assert api.calls_to("sync") == []

    api.begin(APP)
    running = await backend.status(ref, request())
    assert running.phase is Phase.RUNNING and running.message.startswith("rollback Running")
    api.finish(APP)
    done = await backend.status(ref, request())
    assert done.phase is Phase.SUCCEEDED
    assert "Auto-sync of orders-prod is paused" in done.message
    assert "turn it on again only after the fix is in Git" in done.message
    assert "automated" not in api.apps[APP]["spec"]["syncPolicy"]  # never re-enabled by us
    assert api.apps[APP]["status"]["sync"]["status"] == "OutOfSync"


async def test_rollback_without_auto_sync_and_without_history_match(
    api: FakeArgoCd, make: Make
) -> None:
    api.add_app(APP, source=helm("1.4.2"), versions=(helm("1.4.1"),))
    backend = make()
    ref = await backend.start(request("1.4.1", action="rollback"))
    assert api.calls_to("patch") == []
    assert api.calls_to("rollback")[0]["id"] == 0
    api.begin(APP)
    api.finish(APP)
    done = await backend.status(ref, request())
    assert done.phase is Phase.SUCCEEDED and "paused" not in done.message

    fallback = await backend.start(replace(request("1.3.9", action="rollback"), run_id="run-43"))
    assert source(api)["helm"]["parameters"][0]["value"] == "1.3.9"  # deployed like a deploy
    assert api.calls_to("sync")[-1]["infos"][0]["value"] == "run-43"
    assert fallback.data["mode"] == "sync"


async def test_dry_run_rollback_asks_argo_cd_for_a_dry_run(api: FakeArgoCd, make: Make) -> None:
    api.add_app(APP, source=helm("1.4.2"), versions=(helm("1.4.1"),))
    backend = make()
    ref = await backend.start(request("1.4.1", action="rollback", dry_run=True))
    assert api.calls_to("rollback") == [{"name": APP, "id": 0, "dryRun": True, "prune": False}]
    api.begin(APP)
    api.finish(APP)
    done = await backend.status(ref, request())
    assert done.phase is Phase.SUCCEEDED and "would roll back to history #0" in done.message
    assert len(api.apps[APP]["status"]["history"]) == 2  # a dry run leaves no history


async def test_rollback_waits_for_a_running_operation(api: FakeArgoCd, make: Make) -> None:
    api.add_app(APP, source=helm("1.4.2"), versions=(helm("1.4.1"),), automated=True)
    backend = make()
    api.apps[APP]["operation"] = {"sync": {"revision": "main"}}
    with pytest.raises(RetryableDelivery, match="running an operation") as caught:
        await backend.start(request("1.4.1", action="rollback"))
    assert caught.value.retry_after == 30
    assert api.apps[APP]["spec"]["syncPolicy"]["automated"]  # untouched


async def test_dry_run_rollback_leaves_auto_sync_alone(api: FakeArgoCd, make: Make) -> None:
    api.add_app(APP, source=helm("1.4.2"), versions=(helm("1.4.1"),), automated=True)
    backend = make()
    ref = await backend.start(request("1.4.1", action="rollback", dry_run=True))
    assert api.calls == []
    done = await backend.status(ref, request())
    assert done.phase is Phase.SUCCEEDED
    assert done.message == "dry run: would turn auto-sync off and roll back to history #0 " + (
        f"({api.apps[APP]['status']['history'][0]['revision'][:12]})"
    )
    await backend.cancel(ref, request())
    assert api.calls == []


async def test_auto_sync_that_takes_the_change_first_is_followed(
    api: FakeArgoCd, make: Make
) -> None:
    api.add_app(APP, source=helm("1.4.1"), automated=True)
    api.auto_sync_on_patch = True
    backend = make()
    ref = await backend.start(request())
    assert len(api.calls_to("sync")) == 1  # answered "another operation is in progress"
    assert "info" not in api.apps[APP]["status"]["operationState"]["operation"]
    running = await backend.status(ref, request())
    assert running.phase is Phase.RUNNING and "auto-sync started" in running.message
    api.finish(APP)
    assert (await backend.status(ref, request())).phase is Phase.SUCCEEDED


async def test_cancel_terminates_the_operation(api: FakeArgoCd, make: Make) -> None:
    api.add_app(APP, source=helm("1.4.1"))
    backend = make()
    ref = await backend.start(request())
    api.begin(APP)
    await backend.cancel(ref, request())
    assert api.apps[APP]["status"]["operationState"]["phase"] == "Terminating"
    assert (await backend.status(ref, request())).phase is Phase.RUNNING
    api.finish(APP, "Failed", message="Operation terminated", health=None)
    cancelled = await backend.status(ref, request())
    assert cancelled.phase is Phase.CANCELLED and cancelled.message == "operation terminated"
    await backend.cancel(ref, request())  # nothing running any more: no error


async def test_a_new_instance_follows_a_stored_run(api: FakeArgoCd, make: Make) -> None:
    api.add_app(APP, source=helm("1.4.2"), versions=(helm("1.4.1"),), automated=True)
    ref = await make().start(request("1.4.1", action="rollback"))
    stored = json.loads(json.dumps({"id": ref.id, "url": ref.url, "data": ref.data}))
    api.begin(APP)
    api.finish(APP)

    later = make()  # after a restart; the service's target may even have changed since
    status = await later.status(RunRef(**stored), request(app="renamed"))
    assert status.phase is Phase.SUCCEEDED and "paused" in status.message


async def test_errors_name_the_application_and_never_the_token(api: FakeArgoCd, make: Make) -> None:
    api.add_app(APP, source=helm("1.4.1"), project="shop")
    with pytest.raises(PermanentDelivery, match=r"rejected the token \(401\)") as bad:
        await make(token="wrong-token").start(request())
    with pytest.raises(PermanentDelivery, match=r"'nope'.*403.*check the name") as unknown:
        await make().start(request(app="nope"))
    with pytest.raises(PermanentDelivery, match="project 'shop', not 'payments'"):
        await make().start(request(project="payments"))
    for caught in (bad, unknown):
        assert ARGO_TOKEN not in str(caught.value) and "wrong-token" not in str(caught.value)

    api.fail("get", 503, "unavailable", headers={"Retry-After": "7"})
    with pytest.raises(RetryableDelivery, match="503 reading application 'orders-prod'") as busy:
        await make().start(request())
    assert busy.value.retry_after == 7

    api.apps[APP]["operation"] = {"sync": {"revision": "main"}}  # someone else's sync
    with pytest.raises(RetryableDelivery, match="another operation"):
        await make().start(request())


async def test_a_slow_server_is_a_retryable_timeout(api: FakeArgoCd, make: Make) -> None:
    api.add_app(APP, source=helm("1.4.1"))
    api.hold("get")
    with pytest.raises(RetryableDelivery, match="timed out"):
        await make(timeout="200ms").start(request())


async def test_multi_source_applications_are_refused(api: FakeArgoCd, make: Make) -> None:
    app = api.add_app(APP, source=helm("1.4.1"))
    app["spec"]["sources"] = [app["spec"].pop("source")]
    with pytest.raises(PermanentDelivery, match="multi-source"):
        await make().start(request())


def test_settings_are_checked() -> None:
    assert argocd.validate({"url": "https://argocd.example.com", "token": "t"}) == []
    assert argocd.validate({"url": "argocd.example.com", "tokn": "t"}) == [
        "url: must be an http(s) URL",
        "token: required key is missing",
        "tokn: unknown key (check its spelling against config/example.yaml)",
    ]
    assert argocd.validate_target({"app": APP, "parameter": "kustomize-image:redis"}) == []
    problems = argocd.validate_target({"app": "Orders_Prod", "parameter": "helm"})
    assert problems[0].startswith("app: String should match pattern")
    assert problems[1].startswith("parameter: use helm:<parameter>")
    with pytest.raises(ConfigError):
        argocd.create("x", {"url": "ftp://x"}, clock=FakeClock())
