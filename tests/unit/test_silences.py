"""Which matchers silence an incident's alerts in Alertmanager, Unsilence as the incident
decides it, and the card's words for what Alertmanager holds (pure: no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import UserError
from bot.incidents.aggregate import Incident
from bot.incidents.status import Status
from bot.model import Tier
from bot.ports.silences import SilenceMatcher
from bot.silences import MAX_SILENCES, choose
from bot.silences.push import backoff
from bot.silences.view import SilenceView, Upstream, silence_lines

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


def alert(instance: str, name: str = "HighErrorRate", service: str = "orders") -> dict[str, str]:
    return {"alertname": name, "service": service, "env": "prod", "instance": instance}


def test_common_labels_that_match_no_other_alert_make_one_group_silence() -> None:
    choice = choose([alert("i-1"), alert("i-2")], [alert("i-9", service="payments")])
    assert choice is not None and choice.scope == "group" and choice.total == 2
    assert choice.silences == (
        (
            SilenceMatcher("alertname", "HighErrorRate"),
            SilenceMatcher("env", "prod"),
            SilenceMatcher("service", "orders"),
        ),
    )


def test_common_labels_another_alert_carries_too_give_one_silence_per_alert() -> None:
    neighbour = alert("i-3")  # same group labels, another incident (its own route, say)
    choice = choose([alert("i-1"), alert("i-2")], [neighbour])
    assert choice is not None and choice.scope == "alert"
    assert [dict((m.name, m.value) for m in s)["instance"] for s in choice.silences] == [
        "i-1",
        "i-2",
    ]
    exact = [all(m.is_equal and not m.is_regex for m in s) for s in choice.silences]
    assert exact == [True, True] and all(len(s) == 4 for s in choice.silences)


def test_alerts_with_nothing_in_common_are_silenced_one_by_one_and_capped() -> None:
    targets = [{"instance": f"i-{n:03}"} for n in range(MAX_SILENCES + 23)]
    choice = choose(targets, [])
    assert choice is not None and choice.scope == "alert"
    assert len(choice.silences) == MAX_SILENCES and choice.total == MAX_SILENCES + 23


def test_the_same_labels_twice_are_one_silence_and_no_alert_is_nothing() -> None:
    choice = choose([{"a": "1"}, {"a": "1", "b": ""}], [{"a": "1"}])
    assert choice is not None and choice.scope == "alert" and len(choice.silences) == 1
    assert choose([], [alert("i-1")]) is None


def test_back_off_doubles_from_five_seconds_to_five_minutes_or_what_is_asked() -> None:
    waits = [backoff(n).total_seconds() for n in range(1, 10)]
    assert waits == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    assert backoff(1, retry_after=60) == timedelta(seconds=60)
    assert backoff(100) == timedelta(minutes=5)


def incident(**values: object) -> Incident:
    base = Incident(1, "g", "ops", Tier.P1, "High error rate", Status.TRIGGERED, NOW, NOW)
    return replace(base, **values)  # type: ignore[arg-type]


def test_unsilence_lifts_a_running_silence_and_refuses_otherwise() -> None:
    silenced = incident(silenced_until=NOW + timedelta(hours=2), firing_count=1)
    change = silenced.unsilence("Alice", NOW)
    assert change.after.silenced_until is None and change.after.version == silenced.version + 1
    with pytest.raises(UserError) as refused:
        incident().unsilence("Alice", NOW)
    assert refused.value.text_key == "incident.not_silenced"
    with pytest.raises(UserError) as ran_out:
        incident(silenced_until=NOW - timedelta(seconds=1)).unsilence("Alice", NOW)
    assert ran_out.value.text_key == "incident.not_silenced"
    with pytest.raises(UserError) as resolved:
        incident(status=Status.RESOLVED).unsilence("Alice", NOW)
    assert resolved.value.text_key == "incident.already_resolved"


def shown(state: str, scope: str = "group", **values: object) -> Upstream:
    defaults: dict[str, object] = {
        "matchers": (("alertname", "HighErrorRate"), ("service", "orders")),
        "silence_id": "3f9c2a51-5ce1-4d2e-9a7b-000000000001",
        "created_by": "Alice",
        "ends_at": NOW + timedelta(hours=2),
        "last_error": "",
    }
    return Upstream(state=state, scope=scope, **{**defaults, **values})  # type: ignore[arg-type]


def test_the_card_says_until_when_which_id_and_which_matchers_in_the_readers_zone() -> None:
    view = SilenceView((shown("active"),), ())
    lines = silence_lines(view, 2, NOW, "en", "Asia/Shanghai")
    assert lines == [
        "Silenced in Alertmanager until 13:00 CST · id 3f9c2a51…",
        "the group: alertname=HighErrorRate, service=orders",
    ]
    zh = silence_lines(view, 2, NOW, "zh", "Asia/Shanghai")
    assert zh[0].startswith("已在 Alertmanager 中静默至 13:00（北京时间）")


def test_the_card_says_pending_with_the_reason_refused_and_found_silences() -> None:
    pending = shown("pending", silence_id="", last_error="am: connection refused")
    lines = silence_lines(SilenceView((pending,), ()), 1, NOW, "en")
    assert lines[0] == (
        "Alertmanager silence pending (Alertmanager unreachable: am: connection refused); retrying"
    )
    sending = silence_lines(SilenceView((shown("pending", silence_id=""),), ()), 1, NOW, "en")
    assert sending[0] == "Alertmanager silence being created"
    refused = shown("failed", last_error="am: silence invalid: bad matchers")
    assert silence_lines(SilenceView((refused,), ()), 1, NOW, "en")[0] == (
        "Alertmanager refused the silence: am: silence invalid: bad matchers"
    )
    found = shown("active", created_by="bob", silence_id="ab12")
    assert silence_lines(SilenceView((), (found,)), 1, NOW, "en") == [
        "Silenced in Alertmanager by bob until 05:00 UTC · id ab12"
    ]


def test_one_by_one_silences_say_how_many_and_when_they_were_capped() -> None:
    three = tuple(shown("active", scope="alert") for _ in range(3))
    assert silence_lines(SilenceView(three, ()), 3, NOW, "en")[1] == "3 alerts one by one"
    assert silence_lines(SilenceView(three, ()), 73, NOW, "en")[1] == (
        "the first 3 of 73 alerts one by one"
    )
    assert "(+2)" in silence_lines(SilenceView(three, ()), 3, NOW, "en")[0]
