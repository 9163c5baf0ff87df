"""The Helm backend driving a fake ``helm`` executable (a Python script in tmp_path that keeps
Helm 3's release records in a JSON file): upgrade, native rollback, dry run, failure, --atomic,
cancel (SIGTERM and SIGKILL), timeouts, and a new backend instance taking over a run."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_helm import CHART, FakeHelm

from adapters.deploy import helm
from adapters.deploy.helm import HelmBackend
from bot.clock import FakeClock
from bot.errors import ConfigError, PermanentDelivery, RetryableDelivery
from bot.ports import DeployRequest, Phase, RunRef, RunStatus

TARGET = {"release": "orders", "chart": CHART, "namespace": "shop"}
Make = Callable[..., HelmBackend]


def request(**changes: Any) -> DeployRequest:
    base: dict[str, Any] = {
        "run_id": "run-7",
        "action": "deploy",
        "service": "orders",
        "environment": "prod",
        "version": "1.4.2",
        "previous": "1.4.1",
        "target": TARGET,
    }
    return DeployRequest(**{**base, **changes})


@pytest.fixture
def fake(tmp_path: Path) -> FakeHelm:
    return FakeHelm.install(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make(fake: FakeHelm, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Make]:
    made: list[HelmBackend] = []
    logs = tmp_path / "logs"
    logs.mkdir()

    def build(**settings: Any) -> HelmBackend:
        raw = {"binary": fake.binary, "log_dir": str(logs), **settings}
        backend = helm.create("helm-prod", raw, clock=clock)
        made.append(backend)
        return backend

    yield build
    fake.stop_all()
    for backend in made:
        for run in backend._runs.values():
            if run.process is not None:
                await asyncio.to_thread(run.process.process.wait, 10)
        await backend.aclose()


async def settle(backend: HelmBackend, ref: RunRef, req: DeployRequest) -> RunStatus:
    for _ in range(400):
        status = await backend.status(ref, req)
        if status.phase.done:
            return status
        await asyncio.sleep(0.025)
    raise AssertionError(f"still running: {status}")


async def until(check: Callable[[], bool]) -> None:
    for _ in range(400):
        if check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError("condition never held")


async def test_deploy_upgrades_with_the_version_and_confirms_the_revision(
    fake: FakeHelm, make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOCSIN_DB_PASSWORD", "not-for-helm")
    backend = make(
        kubeconfig="/etc/tocsin/kubeconfig",
        kube_context="prod",
        env={"HELM_CACHE_HOME": "/var/cache/helm"},
    )
    req = request()
    ref = await backend.start(req)
    assert ref.id == str(ref.data["pid"])
    status = await settle(backend, ref, req)

    assert status.phase is Phase.SUCCEEDED
    assert status.message == "revision 3 deployed: Tocsin run-7: deploy orders 1.4.2"
    assert "Happy Helming" in status.log_tail
    [upgrade] = fake.calls("upgrade")
    assert upgrade == [
        "upgrade", "--install", "orders", CHART,
        "--set-string", "image.tag=1.4.2",
        "--wait", "--timeout", "600s", "--history-max", "20",
        "--description", "Tocsin run-7: deploy orders 1.4.2",
        "--namespace", "shop", "--kubeconfig", "/etc/tocsin/kubeconfig", "--kube-context", "prod",
    ]  # fmt: skip
    history = fake.history()
    assert [(r["revision"], r["status"]) for r in history] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "deployed"),
    ]
    assert history[-1]["values"]["image"]["tag"] == "1.4.2"
    for env in fake.envs():
        assert "TOCSIN_DB_PASSWORD" not in env
        assert {"PATH", "HOME", "HELM_CACHE_HOME"} <= set(env)
    assert fake.calls("status") and fake.calls("history")


async def test_options_of_the_upgrade(fake: FakeHelm, make: Make, tmp_path: Path) -> None:
    values = tmp_path / "orders-prod.yaml"
    values.write_text("replicaCount: 5\n")
    backend = make(atomic=True, history_max=5, timeout="90s")
    target = {
        **TARGET,
        "values_key": "app.image.tag",
        "chart_version": "0.3.0",
        "values_files": [str(values)],
    }
    req = request(target=target, version="1.10")
    assert (await settle(backend, await backend.start(req), req)).phase is Phase.SUCCEEDED
    [upgrade] = fake.calls("upgrade")
    assert upgrade[4:6] == ["--set-string", "app.image.tag=1.10"]
    assert upgrade[6:11] == ["--wait", "--timeout", "90s", "--history-max", "5"]
    assert upgrade[13:18] == ["--atomic", "--version", "0.3.0", "--values", str(values)]
    assert fake.history()[-1]["values"] == {"replicaCount": 5, "app": {"image": {"tag": "1.10"}}}


async def test_status_while_helm_runs_shows_its_output(fake: FakeHelm, make: Make) -> None:
    backend = make()
    fake.update(hang=True)
    req = request(target={**TARGET, "release": "payments"})
    ref = await backend.start(req)
    await until(lambda: bool(fake.history("payments")))
    status = await backend.status(ref, req)
    assert status.phase is Phase.RUNNING
    assert status.message == "helm upgrade running (0s)"
    assert 'Release "payments" does not exist. Installing it now.' in status.log_tail
    assert fake.history("payments")[0]["status"] == "pending-install"

    fake.update(hang=False)
    status = await settle(backend, ref, req)
    assert status.phase is Phase.SUCCEEDED
    assert status.message.startswith("revision 1 deployed")
    assert await backend.status(ref, req) == status  # the answer is kept


async def test_a_failed_upgrade_fails_the_run(fake: FakeHelm, make: Make) -> None:
    backend = make()
    fake.update(fail="timed out waiting for the condition")
    req = request()
    status = await settle(backend, await backend.start(req), req)
    assert status.phase is Phase.FAILED
    assert status.message == (
        'revision 3 failed: Upgrade "orders" failed: timed out waiting for the condition'
    )
    assert "Error: UPGRADE FAILED: timed out waiting for the condition" in status.log_tail


async def test_an_atomic_rollback_by_helm_is_a_failure(fake: FakeHelm, make: Make) -> None:
    backend = make(atomic=True)
    fake.update(fail="timed out waiting for the condition")
    req = request()
    status = await settle(backend, await backend.start(req), req)
    assert status.phase is Phase.FAILED
    assert status.message == "the upgrade failed and --atomic rolled back (Rollback to 2)"
    assert fake.history()[-1]["status"] == "deployed"


async def test_dry_run_asks_the_server_and_records_nothing(fake: FakeHelm, make: Make) -> None:
    backend = make()
    req = request(dry_run=True)
    status = await settle(backend, await backend.start(req), req)
    assert status.phase is Phase.SUCCEEDED
    assert status.message == "dry run: helm upgrade passed"
    assert "--dry-run=server" in fake.calls("upgrade")[0]
    assert len(fake.history()) == 2


async def test_rollback_uses_the_revision_that_ran_the_version(fake: FakeHelm, make: Make) -> None:
    backend = make()
    req = request(run_id="run-8", action="rollback", version="1.4.0", previous="1.4.1")
    ref = await backend.start(req)
    status = await settle(backend, ref, req)
    assert status.phase is Phase.SUCCEEDED
    assert status.message == "helm rollback to revision 1; revision 3 deployed: Rollback to 1"
    assert fake.calls("rollback") == [
        [
            "rollback", "orders", "1", "--wait", "--timeout", "600s", "--cleanup-on-fail",
            "--history-max", "20", "--namespace", "shop",
        ]
    ]  # fmt: skip
    assert fake.calls("upgrade") == []
    assert fake.history()[-1]["values"]["image"]["tag"] == "1.4.0"
    first_look = fake.calls("get")[0][:7]  # the newest revision first
    assert first_look == ["get", "values", "orders", "--revision", "2", "--output", "json"]


async def test_rollback_to_a_version_helm_never_ran_upgrades_to_it(
    fake: FakeHelm, make: Make
) -> None:
    backend = make()
    req = request(run_id="run-9", action="rollback", version="1.3.9")
    status = await settle(backend, await backend.start(req), req)
    assert status.phase is Phase.SUCCEEDED
    assert status.message.startswith("no revision of orders ran 1.3.9: helm upgrade to it; ")
    assert fake.calls("rollback") == []
    assert fake.history()[-1]["values"]["image"]["tag"] == "1.3.9"


async def test_rollback_dry_run(fake: FakeHelm, make: Make) -> None:
    backend = make()
    req = request(action="rollback", version="1.4.0", dry_run=True)
    status = await settle(backend, await backend.start(req), req)
    assert status.phase is Phase.SUCCEEDED
    assert status.message == "helm rollback to revision 1; dry run: helm rollback passed"
    assert fake.calls("rollback")[0][-3:] == ["--dry-run", "--namespace", "shop"]


async def test_cancel_stops_helm_which_marks_the_release_failed(fake: FakeHelm, make: Make) -> None:
    backend = make()
    fake.update(hang=True)
    req = request()
    ref = await backend.start(req)
    await until(lambda: len(fake.history()) == 3)
    await backend.cancel(ref, req)
    status = await settle(backend, ref, req)
    assert status.phase is Phase.CANCELLED
    assert status.message == "helm was stopped; revision 3 is failed"
    assert fake.history()[-1]["description"] == 'Upgrade "orders" failed: context canceled'
    assert "Release orders has been cancelled." in status.log_tail


async def test_a_helm_deaf_to_sigterm_is_killed_and_leaves_pending(
    fake: FakeHelm, make: Make
) -> None:
    backend = make(cancel_grace="300ms")
    fake.update(hang=True, ignore_term=True)
    req = request()
    ref = await backend.start(req)
    await until(lambda: len(fake.history()) == 3)
    await backend.cancel(ref, req)
    status = await settle(backend, ref, req)
    assert status.phase is Phase.CANCELLED
    assert status.message == (
        "helm was stopped and left revision 3 pending-upgrade; recover with: helm rollback orders"
    )


async def test_a_new_instance_follows_a_run_it_did_not_start(fake: FakeHelm, make: Make) -> None:
    first = make()
    fake.update(hang=True)
    req = request()
    ref = await first.start(req)
    await until(lambda: len(fake.history()) == 3)
    stored = RunRef(id=ref.id, url=ref.url, data=dict(ref.data))

    restarted = make()
    status = await restarted.status(stored, req)
    assert status.phase is Phase.RUNNING
    assert status.message == "revision 3 is pending-upgrade"
    again = await make().start(req)  # the engine starting the run again after its restart
    assert again.id == "orders@3"
    assert len(fake.calls("upgrade")) == 1  # not upgraded twice

    fake.update(hang=False)
    await until(lambda: fake.history()[-1]["status"] == "deployed")
    status = await settle(make(), stored, req)
    assert status.phase is Phase.SUCCEEDED
    assert status.message == "revision 3 deployed: Tocsin run-7: deploy orders 1.4.2"


async def test_a_new_instance_can_cancel_the_helm_still_running(fake: FakeHelm, make: Make) -> None:
    fake.update(hang=True)
    req = request()
    ref = await make().start(req)
    await until(lambda: len(fake.history()) == 3)
    restarted = make()
    await restarted.cancel(ref, req)
    status = await settle(restarted, ref, req)
    assert status.phase is Phase.CANCELLED
    assert status.message == "helm was stopped; revision 3 is failed"


async def test_a_pending_release_whose_helm_is_gone_fails_after_the_timeout(
    fake: FakeHelm, make: Make, clock: FakeClock
) -> None:
    fake.update(hang=True, ignore_term=True)
    req = request()
    ref = await make().start(req)
    await until(lambda: len(fake.history()) == 3)
    os.killpg(int(ref.data["pid"]), signal.SIGKILL)  # Tocsin's host died with it

    restarted = make(timeout="5m")
    assert (await restarted.status(ref, req)).phase is Phase.RUNNING
    clock.advance(timedelta(minutes=7))
    status = await make(timeout="5m").status(ref, req)
    assert status.phase is Phase.FAILED
    assert status.message == (
        "helm is gone and left revision 3 pending-upgrade; recover with: helm rollback orders"
    )


async def test_helm_running_past_its_timeout_is_stopped(
    fake: FakeHelm, make: Make, clock: FakeClock
) -> None:
    backend = make(timeout="5m")
    fake.update(hang=True)
    req = request()
    ref = await backend.start(req)
    await until(lambda: len(fake.history()) == 3)
    clock.advance(timedelta(minutes=7))
    status = await backend.status(ref, req)
    assert status.phase is Phase.FAILED
    assert status.message == "helm upgrade ran past its --timeout 5m; stopped it"


async def test_query_trouble_is_retryable(fake: FakeHelm, make: Make) -> None:
    fake.update(unreachable=True)
    with pytest.raises(RetryableDelivery, match="Kubernetes cluster unreachable"):
        await make().start(request())
    fake.update(unreachable=False, slow_queries=3)
    with pytest.raises(RetryableDelivery, match=r"helm history: no answer within 0\.3s"):
        await make(query_timeout="300ms").start(request())


async def test_problems_that_will_not_go_away_are_permanent(
    fake: FakeHelm, make: Make, tmp_path: Path
) -> None:
    with pytest.raises(PermanentDelivery, match="cannot run helm"):
        await make(binary=str(tmp_path / "no-helm")).start(request())
    with pytest.raises(PermanentDelivery, match="cannot be a Helm value"):
        await make().start(request(version="1.4.2,replicaCount=0"))
    with pytest.raises(PermanentDelivery, match="invalid Helm target: chart: must not start"):
        await make().start(request(target={**TARGET, "chart": "--post-renderer=x"}))
    assert fake.calls("upgrade") == []

    req = request(target={**TARGET, "chart": "elsewhere/orders"})
    backend = make()
    status = await settle(backend, await backend.start(req), req)
    assert status.phase is Phase.FAILED
    assert status.message == "helm ended without recording a new revision (exit code 1)"
    assert status.log_tail == "Error: repo elsewhere not found"


def test_settings_problems_are_named_by_key() -> None:
    assert helm.validate({}) == []
    assert helm.validate({"timeout": "0s", "histroy_max": 3, "env": {"A-B": "x"}}) == [
        "timeout: must be longer than 0s",
        "env: not an environment variable name: A-B",
        "histroy_max: unknown key (check its spelling against config/example.yaml)",
    ]
    assert helm.validate_target(TARGET) == []
    assert helm.validate_target({"release": "Orders", "chart": "x"}) == [
        "release: String should match pattern "
        "'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'",
        "namespace: required key is missing",
    ]
    assert helm.validate_target({**TARGET, "values_key": "image.tag=1,x"}) != []
    with pytest.raises(ConfigError):
        helm.create("h", {"atomic": "maybe"}, clock=FakeClock())


def test_capabilities() -> None:
    caps = HelmBackend.capabilities
    assert (caps.dry_run, caps.cancel, caps.native_rollback) == (True, True, True)
