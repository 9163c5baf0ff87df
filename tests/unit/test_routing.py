"""Matchers, tiers and routes: pure functions of labels."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.alerts.event import label_fingerprint
from bot.alerts.matchers import parse_matcher
from bot.alerts.routing import group_signature, route_for, tier_for
from bot.model import Tier
from tests.support import make_settings


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ('severity="critical"', {"severity": "critical2"}, False),
        ('severity!="info"', {}, True),
        ('env=~"prod|live"', {"env": "live"}, True),
        ('env=~"prod|live"', {"env": "production"}, False),  # anchored, as in Alertmanager
        ('env!~"dev.*"', {"env": "devbox"}, False),
        ("team=", {}, True),  # an empty value matches a missing label
        ('summary="a \\"quoted\\" word"', {"summary": 'a "quoted" word'}, True),
    ],
)
def test_matchers(matcher: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(matcher).matches(labels) is expected


@pytest.mark.parametrize("bad", ['severity=="x"', 'a="x', "=x", 'a=~"("', "1a=b"])
def test_bad_matchers(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_matcher(bad)


def test_default_tiers() -> None:
    settings = make_settings()
    assert tier_for({"severity": "critical"}, settings) == Tier.P0
    assert tier_for({"severity": "error"}, settings) == Tier.P1
    assert tier_for({"severity": "warning"}, settings) == Tier.P2
    assert tier_for({"severity": "info"}, settings) == Tier.P3
    assert tier_for({}, settings) == Tier.P3


def test_routes_first_match_continue_and_tier_filter() -> None:
    settings = make_settings(
        routes=[
            {"name": "p0-only", "tiers": ["P0"], "destinations": ["fake:pager"], "continue": True},
            {"name": "orders", "matchers": ['service="orders"'], "destinations": ["fake:orders"]},
            {"name": "rest", "destinations": ["fake:ops"]},
        ]
    )
    p0 = route_for({"service": "orders"}, Tier.P0, settings)
    assert p0 is not None and p0.route_name == "p0-only"
    assert [str(d) for d in p0.destinations] == ["fake:pager", "fake:orders"]
    p2 = route_for({"service": "orders"}, Tier.P2, settings)
    assert p2 is not None and [str(d) for d in p2.destinations] == ["fake:orders"]
    other = route_for({"service": "web"}, Tier.P3, settings)
    assert other is not None and other.route_name == "rest"


def test_default_route_and_no_route() -> None:
    routes = [{"matchers": ['team="db"'], "destinations": ["fake:db"]}]
    assert route_for({}, Tier.P1, make_settings(routes=routes)) is None
    with_default = make_settings(routes=routes, default_route={"destinations": ["fake:x"]})
    found = route_for({}, Tier.P1, with_default)
    assert found is not None and found.route_name == "default"


def test_group_signature() -> None:
    route = make_settings().routes[1]
    labels = {"alertname": "A", "service": "s", "instance": "i"}
    assert group_signature(labels, "", route) == "alertname=A|service=s"
    assert group_signature(labels, "{}:{x}", route) == "{}:{x}"
    every = route.model_copy(update={"group_by": ("...",)})
    assert "instance=i" in group_signature(labels, "", every)


labels_strategy = st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=6)


@given(labels_strategy)
def test_fingerprint_ignores_label_order(labels: dict[str, str]) -> None:
    reordered = dict(reversed(list(labels.items())))
    assert label_fingerprint(labels) == label_fingerprint(reordered)
    assert len(label_fingerprint(labels)) == 16


@given(labels_strategy, labels_strategy)
def test_different_label_sets_differ(a: dict[str, str], b: dict[str, str]) -> None:
    if a != b:
        assert label_fingerprint(a) != label_fingerprint(b)
