"""The deploy-backend contract, run against all eight kinds and the in-memory fake.

`start` returns a `RunRef` and is idempotent on the run id: started again, the same run comes
back and the backend's side holds one run. `status` follows the run until it is done once the
backend's side lets it end: succeeded, or failed (a `RunStatus`, not an exception). A rollback
is a run like any other. `capabilities` are declared, and a backend that declares `cancel`
takes a cancel of a running run, reports the run cancelled, and takes a second cancel once it
has ended. A target that names nothing on the backend is `PermanentDelivery`; a server out of
reach is `RetryableDelivery`. `aclose` may be called twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import BackendCapabilities, Phase, RunRef, RunStatus
from tests.contract.deploy_servers import SERVER_SUBJECTS
from tests.contract.deploy_subjects import LOCAL_SUBJECTS, DeploySubject

SUBJECTS = {**SERVER_SUBJECTS, **LOCAL_SUBJECTS}
LOCAL = {"shell"}
"""Kinds that run on this host: no server to be out of reach."""


@pytest.fixture(params=sorted(SUBJECTS))
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DeploySubject]:
    async with SUBJECTS[request.param](tmp_path) as made:
        yield made


async def settle(subject: DeploySubject, ref: RunRef, run_id: str, action: str) -> RunStatus:
    """Poll until the run is done (bounded: a few seconds at most)."""
    request = subject.request(run_id, action=action)
    for _ in range(400):
        status = await subject.backend.status(ref, request)
        if status.phase.done:
            return status
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} never ended: {status}")


async def test_a_run_is_followed_to_its_end(subject: DeploySubject) -> None:
    backend, run = subject.backend, subject.request()
    ref = await backend.start(run)
    assert isinstance(ref, RunRef) and ref.id
    assert (await backend.status(ref, run)).phase is Phase.RUNNING
    subject.finish(ref, run)
    assert (await settle(subject, ref, "run-42", "deploy")).phase is Phase.SUCCEEDED


async def test_a_run_that_fails_is_a_failed_status_not_an_error(subject: DeploySubject) -> None:
    run = subject.request()
    ref = await subject.backend.start(run)
    subject.fail(ref, run)
    assert (await settle(subject, ref, "run-42", "deploy")).phase is Phase.FAILED


async def test_start_is_idempotent_on_the_run_id(subject: DeploySubject) -> None:
    backend, run = subject.backend, subject.request()
    ref = await backend.start(run)
    again = await backend.start(run)
    assert again.id == ref.id
    subject.finish(ref, run)
    await settle(subject, ref, "run-42", "deploy")
    assert subject.runs() == 1


async def test_a_rollback_is_a_run_too(subject: DeploySubject) -> None:
    first = subject.request()
    ref = await subject.backend.start(first)
    subject.finish(ref, first)
    await settle(subject, ref, "run-42", "deploy")
    back = subject.request("run-43", action="rollback")
    ref = await subject.backend.start(back)
    subject.finish(ref, back)
    assert (await settle(subject, ref, "run-43", "rollback")).phase is Phase.SUCCEEDED


async def test_cancel_behaves_as_declared(subject: DeploySubject) -> None:
    backend, run = subject.backend, subject.request()
    assert isinstance(backend.capabilities, BackendCapabilities)
    assert backend.kind in SUBJECTS and backend.name
    ref = await backend.start(run)
    if not backend.capabilities.cancel:
        return
    await backend.cancel(ref, run)
    subject.cancelled()
    status = await settle(subject, ref, "run-42", "deploy")
    assert status.phase is Phase.CANCELLED
    await backend.cancel(ref, run)


async def test_a_target_that_names_nothing_is_permanent(subject: DeploySubject) -> None:
    subject.refuse()
    with pytest.raises(PermanentDelivery):
        await subject.backend.start(subject.request(bad=True))


async def test_a_server_out_of_reach_is_retryable(subject: DeploySubject) -> None:
    if subject.unreachable is None:
        assert subject.backend.kind in LOCAL
        return
    with pytest.raises(RetryableDelivery):
        await subject.unreachable().start(subject.request())


async def test_aclose_is_safe_twice(subject: DeploySubject) -> None:
    await subject.backend.aclose()
    await subject.backend.aclose()
