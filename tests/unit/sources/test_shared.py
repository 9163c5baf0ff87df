"""What every vendor source shares: tags as labels, service and env from tags, form bodies,
and the credentials `tocsin check` lets each kind's source configure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from adapters.sources._common import decode_form_or_json
from adapters.sources.tags import as_labels, label_name, pairs
from bot.alerts.event import AlertEvent, AlertStatus
from bot.alerts.tagged import ENV_TAGS, SERVICE_TAGS, tag_names, with_service_env
from bot.cli import main
from bot.errors import ConfigError, InputError
from bot.settings import parse_settings
from bot.settings.schema import Source
from bot.settings.sourcekinds import ACCEPTS
from bot.store.db import Database
from tests.support import base_config
from tests.unit.sources.harness import Sample, lifecycle, served

TOKEN = "vendor-token-Qm4Xs8Lk2Vd7Rp3Wz9Hc5"


@pytest.mark.parametrize(
    ("tag", "label"),
    [
        ("service", "service"),
        ("service.name", "service_name"),
        ("kubernetes/namespace", "kubernetes_namespace"),
        ("  team  ", "team"),
        ("a--b..c", "a_b_c"),
        ("2fa", "_2fa"),
        ("服务", "_"),
        ("", "_"),
    ],
)
def test_label_name(tag: str, label: str) -> None:
    assert label_name(tag) == label


@given(st.text())
def test_label_name_is_always_a_label_name(tag: str) -> None:
    name = label_name(tag)
    assert name and (name[0] == "_" or (name[0].isascii() and name[0].isalpha()))
    assert all(c == "_" or (c.isascii() and c.isalnum()) for c in name)


def test_pairs_split_on_the_first_separator_and_keep_the_first_of_a_key() -> None:
    tags = ["env:prod", "url:https://x.example/a:b", "ident=web01", "standalone", "env:staging"]

    assert pairs(tags) == {
        "env": "prod",
        "url": "https://x.example/a:b",
        "ident": "web01",
        "standalone": "",
    }
    assert as_labels({"service.name": "orders", "service_name": "other"}) == {
        "service_name": "orders"
    }


def event(**labels: str) -> AlertEvent:
    return AlertEvent("v", "fp", AlertStatus.FIRING, {"alertname": "X", **labels})


def source(kind: str, **extra: Any) -> Source:
    auth = {"query_token": TOKEN} if kind == "tencentcloud" else {"bearer_token": TOKEN}
    if kind == "sentry":
        auth = {"hmac_secret": TOKEN}
    return Source.model_validate({"name": "s", "kind": kind, "auth": auth, **extra})


def test_vendor_kinds_take_service_and_env_from_the_first_tag_set() -> None:
    (tagged,) = with_service_env(
        source("datadog"), [event(app="", application="orders", stage="prod")]
    )
    assert tagged.labels["service"] == "orders" and tagged.labels["env"] == "prod"

    (own,) = with_service_env(source("datadog"), [event(service="pay", app="orders", env="dev")])
    assert own.labels["service"] == "pay" and own.labels["env"] == "dev"

    custom = source("datadog", service_from=["team_app"], env_from=[])
    (chosen,) = with_service_env(custom, [event(team_app="cart", app="orders", env="prod")])
    assert chosen.labels["service"] == "cart" and chosen.labels["env"] == "prod"
    assert tag_names(custom) == (("team_app",), ())


def test_alertmanager_alerts_take_nothing_from_tags_unless_told() -> None:
    plain = event(app="orders", environment="prod")
    assert with_service_env(source("alertmanager"), [plain]) == [plain]
    told = source("alertmanager", service_from=["app"])
    (given_one,) = with_service_env(told, [plain])
    assert given_one.labels["service"] == "orders" and "env" not in given_one.labels
    assert tag_names(source("zabbix")) == (SERVICE_TAGS, ENV_TAGS)


def test_form_bodies_and_json_bodies() -> None:
    form = "application/x-www-form-urlencoded; charset=UTF-8"
    body = b"alertName=CPU%E9%AB%98&alertState=ALERT&empty=&alertState=OK"

    assert decode_form_or_json(body, form) == {
        "alertName": "CPU高",
        "alertState": "ALERT",
        "empty": "",
    }
    assert decode_form_or_json(b'{"a": 1}', "application/json") == {"a": 1}
    assert decode_form_or_json(b'{"a": 1}', "") == {"a": 1}
    with pytest.raises(InputError, match="not valid JSON"):
        decode_form_or_json(b"alertName=x", "text/plain")
    with pytest.raises(InputError, match="not UTF-8"):
        decode_form_or_json(b"alertName=\xff", form)


# What `tocsin check` lets each kind configure


def configured(src: dict[str, Any]) -> Any:
    config = base_config()
    return parse_settings({**config, "sources": [*config["sources"], src]}, env={})


@pytest.mark.parametrize(
    ("kind", "auth", "message"),
    [
        ("tencentcloud", {"bearer_token": TOKEN}, "auth.bearer_token: a tencentcloud source's"),
        ("tencentcloud", {"hmac_secret": TOKEN}, "auth.hmac_secret: a tencentcloud source's"),
        ("sentry", {"bearer_token": TOKEN}, "auth.hmac_secret: required"),
        ("sentry", {"hmac_secret": TOKEN, "hmac_scheme": "tocsin"}, "auth.hmac_secret: a sentry"),
        ("datadog", {"hmac_secret": TOKEN}, "use bearer_token (a header the sender sets) or"),
        ("zabbix", {}, "set bearer_token, query_token or hmac_secret"),
    ],
)
def test_check_refuses_credentials_the_sender_cannot_present(
    kind: str, auth: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=r"sources\.3") as caught:
        configured({"name": "vendor", "kind": kind, "auth": auth})
    assert message in str(caught.value)


@pytest.mark.parametrize("kind", sorted(ACCEPTS))
def test_every_kind_can_be_configured_with_what_its_sender_presents(kind: str) -> None:
    settings = configured({"name": "vendor", "kind": kind, "auth": source(kind).auth.model_dump()})
    assert settings.sources[-1].kind == kind


def test_a_sentry_secret_is_checked_the_way_sentry_signs() -> None:
    settings = configured({"name": "vendor", "kind": "sentry", "auth": {"hmac_secret": TOKEN}})
    auth = settings.sources[-1].auth
    assert auth.hmac_scheme == "sentry" and auth.signature_header == "Sentry-Hook-Signature"


def test_service_from_must_name_labels() -> None:
    src = {"name": "vendor", "kind": "datadog", "auth": {"bearer_token": TOKEN}}
    with pytest.raises(ConfigError, match=r"sources\.3\.service_from\.0"):
        configured({**src, "service_from": ["service.name"]})


async def test_a_generic_source_told_to_take_service_from_a_tag(db: Database) -> None:
    body = b'{"name": "DiskFull", "labels": {"app": "orders", "stage": "prod"}, "status": "%s"}'
    src = {
        "name": "tagged",
        "kind": "generic",
        "auth": {"bearer_token": TOKEN, "token_header": "X-Tocsin-Token"},
        "service_from": ["app"],
        "env_from": ["stage"],
    }

    def request(status: str) -> Sample:
        return Sample("https://example.invalid/", None, body % status.encode(), "application/json")

    async with served(db, src, headers={"X-Tocsin-Token": TOKEN}, query="source=tagged") as app:
        await lifecycle(app, request("firing"), request("resolved"))
        (incident,) = await app.incidents()
        assert (incident["service"], incident["environment"]) == ("orders", "prod")


def test_a_vendors_own_service_field_comes_after_the_teams_tags() -> None:
    sentry = source("sentry")
    (tagged,) = with_service_env(sentry, [event(service="checkout", sentry_project="web")])
    (untagged,) = with_service_env(sentry, [event(sentry_project="web", sentry_environment="prod")])

    assert tagged.labels["service"] == "checkout"
    assert (untagged.labels["service"], untagged.labels["env"]) == ("web", "prod")
    assert tag_names(source("sentry", service_from=["app"])) == (
        ("app",),
        (*ENV_TAGS, "sentry_environment"),
    )


def test_tocsin_check_names_each_sources_bad_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = base_config()
    config["database"] = {"url": f"sqlite+aiosqlite:///{tmp_path / 't.db'}"}
    config["sources"] = [
        *config["sources"],
        {"name": "tencent", "kind": "tencentcloud", "auth": {"bearer_token": TOKEN}},
        {"name": "dd", "kind": "datadog", "auth": {"bearer_token": TOKEN}, "env_from": ["a b"]},
        {"name": "sentry", "kind": "sentry", "auth": {"query_token": TOKEN}},
        {"name": "zbx", "kind": "zabix", "auth": {"bearer_token": TOKEN}},
    ]
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")

    assert main(["check", "--config", str(path)]) != 0
    err = capsys.readouterr().err
    assert "sources.3: auth.bearer_token: a tencentcloud source's sender cannot present" in err
    assert "sources.4.env_from.0: String should match pattern" in err
    assert "sources.5: auth.hmac_secret: required: a sentry source must set hmac_secret" in err
    assert "sources.6.kind: Input should be 'alertmanager', 'grafana', 'generic', 'sentry'" in err


@pytest.mark.parametrize(
    ("auth", "path"),
    [
        ({"bearer_token": TOKEN, "token_header": "X Token"}, r"sources\.3\.auth\.token_header"),
        ({"hmac_secret": TOKEN, "hmac_header": "X-Sig:"}, r"sources\.3\.auth\.hmac_header"),
        ({"hmac_secret": TOKEN, "hmac_scheme": "github"}, r"sources\.3\.auth\.hmac_scheme"),
    ],
)
def test_header_names_and_schemes_are_checked(auth: dict[str, str], path: str) -> None:
    with pytest.raises(ConfigError, match=path):
        configured({"name": "vendor", "kind": "generic", "auth": auth})
