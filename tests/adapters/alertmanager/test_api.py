"""The Alertmanager silence client against a local fake Alertmanager: create, expire, list,
credentials, a path prefix, and Alertmanager's refusals and outages as delivery errors."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fake_am import FakeAlertmanager, matcher

from adapters.alertmanager.api import AlertmanagerSilences, iso, parse_time, silence_apis
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports.silences import SilenceAPI, SilenceMatcher
from bot.settings.schema import AlertmanagerAPI
from tests.e2e.conftest import find_free_port
from tests.support import make_settings

Make = Callable[..., AlertmanagerSilences]
TOKEN = "am-api-token-Xr4Lp9Qs2Vd7"
ORDERS = (SilenceMatcher("alertname", "HighErrorRate"), SilenceMatcher("service", "orders"))


@pytest.fixture
async def am() -> AsyncIterator[FakeAlertmanager]:
    fake = FakeAlertmanager(bearer_token=TOKEN)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def make(am: FakeAlertmanager) -> AsyncIterator[Make]:
    made: list[AlertmanagerSilences] = []

    def build(**overrides: Any) -> AlertmanagerSilences:
        settings = AlertmanagerAPI.model_validate(
            {"url": am.url, "bearer_token": TOKEN, "timeout": "2s", **overrides}
        )
        client = AlertmanagerSilences("am", settings)
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


def hour() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now, now + timedelta(hours=1)


async def test_a_silence_is_created_listed_and_expired(am: FakeAlertmanager, make: Make) -> None:
    api: SilenceAPI = make()
    starts, ends = hour()
    silence_id = await api.create(ORDERS, starts, ends, "alice", "https://tocsin/incidents/7")

    posted = am.requests[-1]
    assert posted.headers["Authorization"] == f"Bearer {TOKEN}"
    assert posted.body == {
        "matchers": [m.as_json() for m in ORDERS],
        "startsAt": iso(starts),
        "endsAt": iso(ends),
        "createdBy": "alice",
        "comment": "https://tocsin/incidents/7",
    }
    [listed] = await api.silences()
    assert listed.id == silence_id
    assert listed.matchers == ORDERS
    assert listed.created_by == "alice"
    assert listed.comment == "https://tocsin/incidents/7"
    assert listed.state == "active"
    assert listed.ends_at == parse_time(iso(ends))

    await api.expire(silence_id)
    [listed] = await api.silences()
    assert listed.state == "expired"
    await api.expire(silence_id)  # already expired: fine


async def test_expiring_an_unknown_silence_is_not_an_error(
    am: FakeAlertmanager, make: Make
) -> None:
    api = make()
    await api.expire("6f1c5a0e-93a2-4c1e-8d59-0b2f6a3c9e11")  # 404
    am.old_not_found = True
    await api.expire("6f1c5a0e-93a2-4c1e-8d59-0b2f6a3c9e11")  # 0.25's 500 "silence not found"
    with pytest.raises(PermanentDelivery, match="must be of type uuid"):
        await api.expire("not-a-uuid")


async def test_a_path_prefix_is_kept(am: FakeAlertmanager, make: Make) -> None:
    api = make(url=f"{am.url}/prefix/")
    starts, ends = hour()
    await api.create(ORDERS, starts, ends, "alice", "c")
    assert await api.silences()
    assert {r.path for r in am.requests} == {"/prefix/api/v2/silences"}


async def test_basic_auth(make: Make) -> None:
    fake = FakeAlertmanager(username="tocsin", password="s3cret-Pw")
    await fake.start()
    try:
        api = make(url=fake.url, bearer_token=None, username="tocsin", password="s3cret-Pw")
        assert await api.silences() == []
        pair = base64.b64encode(b"tocsin:s3cret-Pw").decode()
        assert fake.requests[-1].headers["Authorization"] == f"Basic {pair}"
        wrong = make(url=fake.url, bearer_token=None, username="tocsin", password="nope")
        with pytest.raises(PermanentDelivery, match="HTTP 401"):
            await wrong.silences()
    finally:
        await fake.close()


async def test_a_wrong_token_is_refused_for_good_and_never_named(make: Make) -> None:
    api = make(bearer_token="wrong-token-Zq8")
    with pytest.raises(PermanentDelivery) as refused:
        await api.silences()
    assert "HTTP 401" in str(refused.value)
    assert "wrong-token" not in str(refused.value)


@pytest.mark.parametrize(
    ("matchers", "starts_in", "ends_in", "words"),
    [
        ((SilenceMatcher("service", ""),), 0, 60, "must not match the empty string"),
        ((SilenceMatcher("service", ".*", is_regex=True),), 0, 60, "must not match the empty"),
        ((SilenceMatcher("service", "(", is_regex=True),), 0, 60, "invalid regular expression"),
        (ORDERS, 60, 30, "start time must be before end time"),
        (ORDERS, -120, -60, "end time can't be in the past"),
        ((), 0, 60, "matchers in body should have at least 1 items"),
    ],
)
async def test_alertmanager_refusals_carry_its_words(
    make: Make,
    matchers: tuple[SilenceMatcher, ...],
    starts_in: int,
    ends_in: int,
    words: str,
) -> None:
    now = datetime.now(UTC)
    api = make()
    with pytest.raises(PermanentDelivery, match=words):
        await api.create(
            matchers,
            now + timedelta(minutes=starts_in),
            now + timedelta(minutes=ends_in),
            "alice",
            "c",
        )


async def test_outages_are_retryable(am: FakeAlertmanager, make: Make) -> None:
    api = make()
    starts, ends = hour()
    am.fail(503, "Service Unavailable")
    with pytest.raises(RetryableDelivery, match="HTTP 503"):
        await api.create(ORDERS, starts, ends, "alice", "c")
    am.fail(429, "slow down", headers={"Retry-After": "7"})
    with pytest.raises(RetryableDelivery) as limited:
        await api.silences()
    assert limited.value.retry_after == 7.0
    am.down = True
    with pytest.raises(RetryableDelivery):
        await api.expire("6f1c5a0e-93a2-4c1e-8d59-0b2f6a3c9e11")
    am.down = False
    assert await api.silences() == []


async def test_an_unreachable_alertmanager_is_retryable(make: Make) -> None:
    api = make(url=f"http://127.0.0.1:{find_free_port()}")
    with pytest.raises(RetryableDelivery, match="am: list silences"):
        await api.silences()


async def test_an_odd_silence_in_the_list_hides_only_itself(
    am: FakeAlertmanager, make: Make
) -> None:
    kept = am.add([matcher("service", "orders")], datetime.now(UTC) + timedelta(hours=1))
    odd = am.add([matcher("service", "orders")], datetime.now(UTC) + timedelta(hours=1))
    am.silences[odd].matchers = [{"value": "no name"}]
    assert [s.id for s in await make().silences()] == [kept]


async def test_an_answer_that_is_not_alertmanagers_is_permanent(
    am: FakeAlertmanager, make: Make
) -> None:
    am.fail(200, "<html>login</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(PermanentDelivery, match="not a list of silences"):
        await make().silences()


def test_one_client_per_alertmanager_source_with_an_api() -> None:
    settings = make_settings(
        sources=[
            {
                "name": "am",
                "kind": "alertmanager",
                "auth": {"bearer_token": "w"},
                "api": {"url": "http://127.0.0.1:9093"},
            },
            {"name": "am2", "kind": "alertmanager", "auth": {"bearer_token": "w"}},
            {"name": "graf", "kind": "grafana", "auth": {"bearer_token": "w"}},
        ]
    )
    apis = silence_apis(settings)
    assert list(apis) == ["am"]
    assert apis["am"].source == "am"
