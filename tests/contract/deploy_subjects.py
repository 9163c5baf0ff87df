"""What the deploy-backend contract needs of each backend's side, and the backends that need no
server: Helm (a fake ``helm`` program), a shell script, and the in-memory fake. The backends
with a server are in `deploy_servers`.

A subject gives the backend, a target that exists and one that does not, and from its fake: let
a run end well or badly, count the runs started, and a backend whose server is out of reach.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_helm import CHART, FakeHelm

from adapters.deploy import helm, shell
from adapters.deploy.memory import MemoryBackend
from bot.clock import FakeClock
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import DeployBackend, DeployRequest, Phase, RunRef

JOB = "team/deploy-orders"


@dataclass
class DeploySubject:
    backend: DeployBackend
    target: dict[str, Any]
    bad_target: dict[str, Any]
    """A target naming what does not exist on the backend (an unknown app, job, workflow…)."""
    finish: Callable[[RunRef, DeployRequest], None]
    """The backend's side lets the started run end well."""
    fail: Callable[[RunRef, DeployRequest], None]
    """The backend's side lets the started run end badly."""
    runs: Callable[[], int]
    """How many runs the backend's side has started so far."""
    unreachable: Callable[[], DeployBackend] | None
    """The backend with its server out of reach; None for a backend that runs locally."""
    refuse: Callable[[], None] = lambda: None
    """Make the next start meet `bad_target` as refused (for a fake that must be told)."""
    cancelled: Callable[[], None] = lambda: None
    """The backend's side acts on a cancel it was sent (for a fake that must be told)."""

    def request(
        self, run_id: str = "run-42", *, action: str = "deploy", bad: bool = False
    ) -> DeployRequest:
        back = action == "rollback"
        return DeployRequest(
            run_id=run_id,
            action=action,
            service="orders",
            environment="prod",
            version="1.4.1" if back else "1.4.2",
            previous="1.4.2" if back else "1.4.1",
            target=self.bad_target if bad else self.target,
            requested_by="alice",
        )


def nowhere() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@asynccontextmanager
async def closing(made: list[Any], *servers: Any) -> AsyncIterator[None]:
    """`servers` running for the test; afterwards every backend in `made` closed, then them."""
    for server in servers:
        await server.start()
    try:
        yield
    finally:
        for backend in made:
            await backend.aclose()
        for server in servers:
            await server.close()


@asynccontextmanager
async def helm_subject(tmp: Path) -> AsyncIterator[DeploySubject]:
    fake, made = FakeHelm.install(tmp), []
    (tmp / "logs").mkdir()

    def build(**overrides: Any) -> DeployBackend:
        raw = {"binary": fake.binary, "log_dir": str(tmp / "logs"), **overrides}
        made.append(helm.create("helm-prod", raw, clock=FakeClock()))
        return made[-1]

    def unreachable() -> DeployBackend:
        fake.update(unreachable=True)
        return made[0]

    fake.update(hang=True)
    target = {"release": "orders", "chart": CHART, "namespace": "shop"}
    try:
        async with closing(made):
            yield DeploySubject(
                build(),
                target,
                {**target, "chart": "--not-a-chart"},
                lambda ref, request: fake.update(hang=False),
                lambda ref, request: fake.update(hang=False, fail="timed out waiting for pods"),
                lambda: len(fake.calls("upgrade")) + len(fake.calls("rollback")),
                unreachable,
            )
    finally:
        fake.stop_all()


@asynccontextmanager
async def shell_subject(tmp: Path) -> AsyncIterator[DeploySubject]:
    runs, made = tmp / "runs.txt", []
    program = tmp / "deploy.py"
    program.write_text(
        f"#!{sys.executable}\n"
        "import os, sys, time\n"
        f"open({str(runs)!r}, 'a').write(os.environ['TOCSIN_RUN_ID'] + '\\n')\n"
        "for _ in range(2000):\n"
        f"    if os.path.exists({str(tmp / 'go')!r}):\n"
        "        break\n"
        "    time.sleep(0.01)\n"
        f"sys.exit(3 if os.path.exists({str(tmp / 'fail')!r}) else 0)\n"
    )
    program.chmod(0o755)
    raw = {"command": [str(program)], "log_dir": str(tmp / "runs")}

    def fail() -> None:
        (tmp / "fail").touch()
        (tmp / "go").touch()

    made.append(shell.create("scripts", raw, clock=FakeClock()))
    async with closing(made):
        yield DeploySubject(
            made[0],
            {"args": ["--cluster", "cn-east-1"]},
            {"argv": ["--cluster"]},
            lambda ref, request: (tmp / "go").touch(),
            lambda ref, request: fail(),
            lambda: len(runs.read_text().splitlines()) if runs.exists() else 0,
            None,
        )


@asynccontextmanager
async def memory_subject(tmp: Path) -> AsyncIterator[DeploySubject]:
    backend = MemoryBackend()

    def unreachable() -> DeployBackend:
        backend.fail_start.append(RetryableDelivery("memory: the server does not answer"))
        return backend

    yield DeploySubject(
        backend,
        {"job": JOB},
        {"job": "team/nope"},
        lambda ref, request: backend.finish(ref.id),
        lambda ref, request: backend.finish(ref.id, Phase.FAILED),
        lambda: len(backend.phases),
        unreachable,
        lambda: backend.fail_start.append(PermanentDelivery("memory: no job team/nope")),
    )


LOCAL_SUBJECTS: dict[str, Callable[[Path], Any]] = {
    "helm": helm_subject,
    "memory": memory_subject,
    "shell": shell_subject,
}
