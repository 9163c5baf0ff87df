"""The webhook deploy backend against a fake receiver that checks the signature and the
idempotency key: synchronous and asynchronous answers, polling, cancel, restarts, errors."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from typing import Any

import pytest
from fake_webhook import SECRET, FakeWebhook

from adapters.deploy import webhook
from adapters.deploy.webhook import WebhookBackend, signature
from bot.clock import FakeClock
from bot.errors import ConfigError, PermanentDelivery, RetryableDelivery
from bot.ports import DeployRequest, Phase, RunRef

Make = Callable[..., WebhookBackend]


@pytest.fixture
async def hook() -> AsyncIterator[FakeWebhook]:
    server = FakeWebhook()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make(hook: FakeWebhook, clock: FakeClock) -> AsyncIterator[Make]:
    made: list[WebhookBackend] = []

    def build(**overrides: Any) -> WebhookBackend:
        raw = {"url": hook.hook_url, "secret": SECRET, **overrides}
        backend = webhook.create("deployer", raw, clock=clock)
        made.append(backend)
        return backend

    yield build
    for backend in made:
        await backend.aclose()


def request(**overrides: Any) -> DeployRequest:
    values: dict[str, Any] = {
        "run_id": "run-7",
        "action": "rollback",
        "service": "orders",
        "environment": "prod",
        "version": "v2.4.0",
        "previous": "v2.4.1",
        "target": {"extra": {"cluster": "cn-east-1"}},
        "params": {"reason": "5xx > 5% 回滚"},
        "requested_by": "alice",
        "approved_by": ("bob",),
    }
    return DeployRequest(**{**values, **overrides})


# -- settings ------------------------------------------------------------------------------


def test_sections_are_validated_by_key() -> None:
    assert webhook.validate({"url": "https://d.example.com/h", "secret": SECRET}) == []
    problems = webhook.validate(
        {"url": "d.example.com", "secret": "short", "headers": {"X-Tocsin-Signature": "x"}}
    )
    assert problems == [
        "url: must be an http(s) URL",
        "secret: must be at least 16 characters",
        "headers: X-Tocsin-Signature: set by Tocsin itself",
    ]
    assert webhook.validate_target({"url": "https://other.example.com/h", "extra": {"a": 1}}) == []
    assert webhook.validate_target({"extra": {"version": "x", "run_id": "y"}}) == [
        "extra: run_id, version: set by Tocsin itself"
    ]
    with pytest.raises(ConfigError):
        webhook.create("x", {"url": "https://d.example.com"}, clock=FakeClock())


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_body() -> None:
    # the layout: HMAC-SHA256("key", "<timestamp>.<body>"), the value a
    # receiver computes with: printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$key"
    assert signature(b"key", "The quick brown", b"fox jumps over the lazy dog") == (
        "sha256="
        + hmac.new(
            b"key", b"The quick brown.fox jumps over the lazy dog", hashlib.sha256
        ).hexdigest()
    )


# -- synchronous ---------------------------------------------------------------------------


async def test_a_synchronous_success(hook: FakeWebhook, make: Make) -> None:
    hook.mode = "sync"
    backend = make()
    ref = await backend.start(request())

    assert ref.id == "run-7"
    assert ref.data == {"result": {"status": "succeeded", "message": "deployed to 3 hosts"}}
    status = await backend.status(ref, request())
    assert (status.phase, status.message) == (Phase.SUCCEEDED, "deployed to 3 hosts")
    await backend.cancel(ref, request())  # nothing left to cancel
    assert hook.posts == 1
    assert backend.capabilities.dry_run is True and backend.capabilities.artifact_check is False
    assert await backend.artifact_exists(request()) is None


async def test_the_body_is_the_run(hook: FakeWebhook, make: Make) -> None:
    ref = await make().start(request(dry_run=True))
    assert hook.runs[ref.id].body == {
        "cluster": "cn-east-1",
        "run_id": "run-7",
        "action": "rollback",
        "service": "orders",
        "environment": "prod",
        "version": "v2.4.0",
        "previous": "v2.4.1",
        "params": {"reason": "5xx > 5% 回滚"},
        "dry_run": True,
        "requested_by": "alice",
        "approved_by": ["bob"],
        "stage": "",
        "canary_weight": 0,
    }


async def test_a_canary_says_so_in_the_body(hook: FakeWebhook, make: Make) -> None:
    canary = request(action="deploy", stage="canary", canary_weight=10, params={"w": "10"})
    ref = await make().start(canary)
    body = hook.runs[ref.id].body
    assert (body["stage"], body["canary_weight"], body["params"]) == ("canary", 10, {"w": "10"})
    assert make().capabilities.canary


async def test_a_synchronous_failure_is_a_failed_run(hook: FakeWebhook, make: Make) -> None:
    hook.mode = "sync"
    hook.result = {"status": "failed", "message": "helm: timed out waiting for pods"}
    backend = make()
    status = await backend.status(await backend.start(request()), request())
    assert (status.phase, status.message) == (Phase.FAILED, "helm: timed out waiting for pods")


async def test_a_repeated_start_gets_the_first_answer(hook: FakeWebhook, make: Make) -> None:
    first = await make().start(request())
    again = await make().start(request(params={"reason": "typed again"}))
    assert again == first
    assert hook.posts == 1 and len(hook.runs) == 1


# -- asynchronous --------------------------------------------------------------------------


async def test_an_asynchronous_run_is_polled(hook: FakeWebhook, make: Make) -> None:
    backend = make()
    ref = await backend.start(request())
    assert ref.url == "https://deploys.example.com/runs/run-7"
    assert ref.data == {"status_url": f"{hook.base_url}/runs/run-7"}

    hook.advance("run-7", "running", "2/3 hosts updated", progress=0.66)
    status = await backend.status(ref, request())
    assert (status.phase, status.message, status.progress) == (
        Phase.RUNNING,
        "2/3 hosts updated",
        0.66,
    )
    assert status.url == ref.url

    hook.advance("run-7", "succeeded", "3/3 hosts updated")
    done = await make().status(RunRef(**json.loads(json.dumps(asdict(ref)))), request())
    assert (done.phase, done.message, done.progress) == (Phase.SUCCEEDED, "3/3 hosts updated", 1.0)


async def test_a_relative_status_url_is_resolved(hook: FakeWebhook, make: Make) -> None:
    hook.relative = True
    ref = await make().start(request())
    assert ref.data["status_url"] == f"{hook.base_url}/runs/run-7"


async def test_cancel_deletes_the_status_url(hook: FakeWebhook, make: Make) -> None:
    backend = make()
    ref = await backend.start(request())
    await backend.cancel(ref, request())
    status = await backend.status(ref, request())
    assert (status.phase, status.message) == (Phase.CANCELLED, "cancelled by Tocsin")
    await backend.cancel(ref, request())  # repeated by the engine: the 409 is fine
    assert hook.runs["run-7"].deletes == 2


async def test_a_run_the_receiver_forgot_has_failed(hook: FakeWebhook, make: Make) -> None:
    backend = make()
    ref = await backend.start(request())
    del hook.runs["run-7"]
    status = await backend.status(ref, request())
    assert status.phase is Phase.FAILED
    assert status.message == "the receiver no longer knows this run (HTTP 404)"


async def test_an_unknown_status_is_permanent(hook: FakeWebhook, make: Make) -> None:
    backend = make()
    ref = await backend.start(request())
    hook.status_override = {"status": "exploded"}
    with pytest.raises(PermanentDelivery, match="unknown status 'exploded'"):
        await backend.status(ref, request())


# -- errors --------------------------------------------------------------------------------


async def test_a_wrong_secret_is_refused(hook: FakeWebhook, make: Make) -> None:
    wrong = "not-the-secret-0123456789"
    with pytest.raises(PermanentDelivery) as caught:
        await make(secret=wrong).start(request())
    assert str(caught.value) == "webhook: start: the receiver refused the request (HTTP 401)"
    assert hook.posts == 0


async def test_an_answer_without_result_or_status_url(hook: FakeWebhook, make: Make) -> None:
    hook.mode = "sync"
    hook.result = {"status": "running"}
    with pytest.raises(PermanentDelivery, match="neither a finished status nor a status_url"):
        await make().start(request())


async def test_a_refusal_says_why(hook: FakeWebhook, make: Make) -> None:
    hook.fail_next(422, message="unknown service 'orders'")
    with pytest.raises(PermanentDelivery) as caught:
        await make(headers={"X-Gateway": "1"}).start(request(target={}))
    assert str(caught.value) == "webhook: start: HTTP 422: unknown service 'orders'"


async def test_outages_are_retryable(hook: FakeWebhook, make: Make) -> None:
    backend = make(timeout="100ms")
    hook.fail_next(503)
    with pytest.raises(RetryableDelivery, match="HTTP 503"):
        await backend.start(request())
    hook.fail_next(429, **{"Retry-After": "12"})
    with pytest.raises(RetryableDelivery) as caught:
        await backend.start(request())
    assert caught.value.retry_after == 12.0
    hook.hold("hook")
    with pytest.raises(RetryableDelivery, match="timed out"):
        await backend.start(request())
    assert hook.posts == 0
