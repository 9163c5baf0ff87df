"""Replicas that behave as one: real `tocsin run` processes on one PostgreSQL database, sending
to loopback fakes that count every message and refuse what the platform would refuse.

- three replicas share one WeCom group robot for three minutes of alerts: at most 20 messages
  in any rolling minute, none refused;
- two replicas page through an SMS provider that answers in 5 s (and, for some numbers, 30 s):
  every page sent exactly once;
- a replica killed (SIGKILL) after it told the platform "OK" for a button press but before it
  acted: the press is carried out once, by the other replica, with its audit row.

The figures asserted are counts, never durations: the rate test counts messages per window of
the fake's own clock.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from tests.e2e.conftest import ProcessManager
from tests.e2e.replicas import (
    WEBHOOK_TOKEN,
    FakeGroupRobot,
    FakeSlackApi,
    FakeTwilio,
    Postgres,
    Replica,
    Replicas,
    SlackCall,
    alertmanager,
    base_config,
    max_per_window,
    postgres,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

WAIT = 120.0
"""Seconds any one wait may take before the test gives up (a bound, not a measurement)."""


@pytest.fixture
def pg() -> Iterator[Postgres]:
    with postgres() as made:
        yield made


@pytest.fixture
def replicas(
    processes: ProcessManager, free_port: Callable[[], int], tmp_path: Path, pg: Postgres
) -> Replicas:
    return Replicas(processes, free_port, tmp_path, base_config(pg.url))


def post_alerts(replica: Replica, alerts: list[dict[str, Any]]) -> None:
    response = httpx.post(
        replica.url("/api/v1/alerts/alertmanager"),
        json=alertmanager(alerts),
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        timeout=30.0,
    )
    assert response.status_code == 200, response.text


def wait_until(what: str, done: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.25)


# -- one robot, three replicas -------------------------------------------------------------------

ROBOT_MINUTES = float(os.environ.get("TOCSIN_ROBOT_MINUTES", "3"))


def test_three_replicas_keep_a_shared_group_robot_within_twenty_a_minute(
    replicas: Replicas, pg: Postgres
) -> None:
    with FakeGroupRobot("robot-key-0123456789") as robot:
        replicas.config.update(
            wecom={"robots": {"ops": {"webhook": robot.webhook}}},
            routes=[
                {
                    "name": "ops",
                    "matchers": ['alertname=~".+"'],
                    "destinations": ["wecom-robot:ops"],
                }
            ],
        )
        started = replicas.start_many(3)
        ids = itertools.count()
        turn = itertools.cycle(started)
        end = time.monotonic() + ROBOT_MINUTES * 60
        while time.monotonic() < end:  # a new incident every second, spread over the replicas
            n = next(ids)
            labels = {"alertname": f"Robot{n}", "service": f"svc{n % 7}", "severity": "warning"}
            post_alerts(next(turn), [{"labels": labels, "fingerprint": f"robot-{n:06d}"}])
            time.sleep(1.0)

        # the budget is used, not idled away: with a queue this long, the robot gets its 20 a
        # minute (a bounded wait for a count; how long it took is the benchmark's business)
        wait_until("the robot's budget in use", lambda: len(robot.shown) >= 20 * ROBOT_MINUTES)
        times = [at for at, _ in robot.shown]
        assert robot.refused == []
        assert max_per_window(times) <= 20
        opened = pg.value("SELECT count(*) FROM incidents")
        assert opened == next(ids)


# -- a slow SMS provider, two replicas ----------------------------------------------------------

TWILIO_SID = "AC" + "0" * 32
PEOPLE = 50
SLOWEST = 5
"""People whose number the provider answers in 30 s; the others get answers in 5 s."""


def test_two_replicas_page_through_a_slow_provider_exactly_once(
    replicas: Replicas, pg: Postgres
) -> None:
    numbers = [f"+861380000{n:04d}" for n in range(PEOPLE)]
    slow = set(numbers[:SLOWEST])
    with FakeTwilio(TWILIO_SID, lambda to: 30.0 if to in slow else 5.0) as twilio:
        users = [
            {
                "id": f"u{n}",
                "name": f"Person {n}",
                "roles": ["sre"],
                "contact": {"phone": numbers[n]},
            }
            for n in range(PEOPLE)
        ]
        replicas.config.update(
            users=users,
            roles={"sre": {"grants": ["*"]}},
            escalation_policies={
                f"p{n}": {"steps": [{"targets": [f"user:u{n}"], "delay": "1h"}]}
                for n in range(PEOPLE)
            },
            routes=[
                {
                    "name": f"r{n}",
                    "matchers": [f'team="t{n}"'],
                    "destinations": ["console:ops"],
                    "escalation_policy": f"p{n}",
                }
                for n in range(PEOPLE)
            ],
            console={"enabled": True, "chats": ["ops"]},
            paging={"channels": {"P0": ["sms"]}},
            pagers={
                "sms": {
                    "provider": "twilio",
                    "account_sid": TWILIO_SID,
                    "auth_token": "twilio-token-0123456789",
                    "from_number": "+15550001111",
                    "timeout": "60s",
                    "base_url": twilio.url,
                }
            },
        )
        first, second = replicas.start_many(2)
        for n in range(PEOPLE):  # one P0 incident per person, half through each replica
            labels = {"alertname": "Down", "team": f"t{n}", "severity": "critical"}
            post_alerts((first, second)[n % 2], [{"labels": labels, "fingerprint": f"p{n:04d}"}])

        def all_recorded() -> bool:
            return pg.value("SELECT count(*) FROM pages WHERE status = 'sent'") == PEOPLE

        wait_until("every page sent and recorded", all_recorded)
        time.sleep(2.0)  # anything still to come from a duplicate send would arrive by now

        per_number = Counter(sms.to for sms in twilio.messages)
        assert set(per_number) == set(numbers)  # no page missed
        assert max(per_number.values()) == 1  # none sent twice
        assert pg.value("SELECT count(*) FROM pages") == PEOPLE


# -- a press whose replica is killed after saying OK ---------------------------------------------

SLACK_TOKEN = "xoxb-replicas-0123456789"
SLACK_SECRET = "replicas-slack-signing-secret-0123"


def slack_config(slack: FakeSlackApi, **extra: Any) -> dict[str, Any]:
    """Tocsin's Slack section in HTTP mode, its Web API pointed at `slack`."""
    return {
        "mode": "http",
        "bot_token": SLACK_TOKEN,
        "signing_secret": SLACK_SECRET,
        "api_url": slack.api_url,
        **extra,
    }


def signed_press(
    card: SlackCall, button: dict[str, Any], user: str
) -> tuple[bytes, dict[str, str]]:
    """The ``block_actions`` request Slack sends when `user` presses `button` on `card`."""
    ts = card.ts
    payload = {
        "type": "block_actions",
        "user": {"id": user, "name": user},
        "team": {"id": "T0TEAM"},
        "api_app_id": "A0TOCSIN",
        "trigger_id": "1767225600.0001.replicas",
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": "C0OPS",
            "is_ephemeral": False,
        },
        "channel": {"id": "C0OPS"},
        "message": {"ts": ts},
        "actions": [{**button, "type": "button", "action_ts": "1767225601.000200"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": signature,
    }
    return body, headers


def ack_button(card: SlackCall) -> dict[str, Any]:
    for block in card.params.get("blocks", []):
        for element in block.get("elements", []):
            if str(element.get("action_id", "")).startswith("tocsin:ack:"):
                return {"action_id": element["action_id"], "value": element["value"]}
    raise AssertionError(f"no Acknowledge button on {card.params}")


def test_a_press_acknowledged_by_a_replica_killed_before_acting_is_done_once_by_another(
    replicas: Replicas, pg: Postgres
) -> None:
    with FakeSlackApi(SLACK_TOKEN) as slack:
        replicas.config.update(
            slack=slack_config(slack),
            users=[
                {
                    "id": "alice",
                    "name": "Alice",
                    "roles": ["sre"],
                    "identities": {"slack": "U0ALICE"},
                }
            ],
            roles={"sre": {"grants": ["*"]}},
            routes=[
                {"name": "ops", "matchers": ['alertname=~".+"'], "destinations": ["slack:C0OPS"]}
            ],
        )
        doomed, survivor = replicas.start_many(2)
        labels = {"alertname": "Down", "service": "orders", "severity": "critical"}
        post_alerts(doomed, [{"labels": labels, "fingerprint": "kill-0001"}])
        wait_until("the incident's card", lambda: bool(slack.posted()))
        card = slack.posted()[0]
        body, headers = signed_press(card, ack_button(card), "U0ALICE")

        # the doomed replica stores the press and says OK, then waits on the incident's lock
        pg.hold("SELECT id FROM incidents FOR UPDATE")
        answer = httpx.post(doomed.url("/slack/events"), content=body, headers=headers, timeout=10)
        assert answer.status_code == 200
        assert [tuple(r) for r in pg.fetch("SELECT kind, state FROM inbox")] == [
            ("action", "pending")
        ]
        wait_until(
            "the press to wait on the lock",
            lambda: (
                pg.value("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                == 1
            ),
        )
        doomed.process.popen.kill()  # SIGKILL: no shutdown, no drain
        doomed.process.popen.wait(timeout=10)
        pg.release()

        def acknowledged() -> bool:
            return pg.value("SELECT status FROM incidents") == "acknowledged"

        wait_until("the other replica to take the press over", acknowledged)
        wait_until(
            "the answer in the card's thread",
            lambda: any(c.params.get("thread_ts") == card.ts for c in slack.posted()),
        )
        audit = pg.fetch("SELECT action, outcome FROM audit_log WHERE action = 'button:ack'")
        assert [tuple(a) for a in audit] == [("button:ack", "allowed")]
        assert [tuple(r) for r in pg.fetch("SELECT state, attempts FROM inbox")] == [("done", 2)]
        assert pg.value("SELECT acked_by FROM incidents") == "Alice"

        # Slack's own retry of the press, to the survivor, changes nothing
        again = httpx.post(survivor.url("/slack/events"), content=body, headers=headers, timeout=10)
        assert again.status_code in (200, 401)  # 401: refused as a replay of a seen signature
        time.sleep(1.0)
        audit = pg.fetch("SELECT action FROM audit_log WHERE action = 'button:ack'")
        assert len(audit) == 1


# -- an alert storm into one Slack channel ---------------------------------------------------------

STORM_ALERTS, STORM_P0, STORM_SECONDS = 5_000, 500, 30.0
STORM, OTHER = "C0STORM", "C0OTHER"
OWN_CARD = re.compile(r"^\[P\d\] ((?:Storm|AfterStorm)\w*)")
DIGEST = re.compile(r"Alert storm: (\d+) incidents")
HORIZON = 45
"""`outbox.storm_horizon` in seconds (the default): how long a chat's queue may grow."""
SHOWN_WITHIN = HORIZON + 10
"""Posts to the storm's channel (one a second, Slack's pace) by which an incident must be
shown once its alert was taken: the horizon, and a little for digests and their updates."""
STARVED = 5
"""Posts to the storm's channel while an unrelated chat's card waits: about 5 s of its pace."""


def shown(calls: list[SlackCall]) -> list[int]:
    """After each call, how many incidents the storm's channel shows: own cards, and the count
    of each digest's latest version."""
    own: set[str] = set()
    digests: dict[str, int] = {}
    after: list[int] = []
    for call in calls:
        text = str(call.params.get("text", ""))
        if call.params.get("channel") == STORM:
            digest = DIGEST.search(text)
            if digest:
                digests[call.ts] = int(digest.group(1))
            elif call.method == "chat.postMessage" and (found := OWN_CARD.match(text)):
                own.add(found.group(1))
        after.append(len(own) + sum(digests.values()))
    return after


def visible(calls: list[SlackCall]) -> int:
    return (shown(calls) or [0])[-1]


def late_incidents(calls: list[SlackCall], taken: list[float]) -> list[tuple[int, int]]:
    """Storm alerts not shown by the time the storm's channel had `SHOWN_WITHIN` more posts
    than when the alert was taken: (how many alerts were taken by then, how many were shown)."""
    counts = shown(calls)
    posts = [
        i
        for i, c in enumerate(calls)
        if c.method == "chat.postMessage" and c.params.get("channel") == STORM
    ]
    late = []
    for n, at in enumerate(sorted(taken), start=1):
        before = sum(1 for i in posts if calls[i].at < at)
        if before + SHOWN_WITHIN < len(posts):
            by = posts[before + SHOWN_WITHIN]
            if counts[by] < n:
                late.append((n, counts[by]))
    return late


def storm_alert(n: int) -> dict[str, Any]:
    severity = "critical" if n % (STORM_ALERTS // STORM_P0) == 0 else ("warning", "info")[n % 2]
    labels = {
        "alertname": f"Storm{n:05d}",
        "service": f"svc{n % 50}",
        "team": "storm",
        "severity": severity,
    }
    return {"labels": labels, "fingerprint": f"storm-{n:05d}"}


def test_a_storm_stays_visible_within_slacks_budget_and_starves_no_other_chat(
    replicas: Replicas, pg: Postgres
) -> None:
    with FakeSlackApi(SLACK_TOKEN, rate=1.0, burst=3) as slack:
        replicas.config.update(
            slack=slack_config(slack, rate_per_second=1.0, burst=3),
            routes=[
                {"name": "storm", "matchers": ['team="storm"'], "destinations": [f"slack:{STORM}"]},
                {"name": "other", "matchers": ['team="other"'], "destinations": [f"slack:{OTHER}"]},
            ],
        )
        started = replicas.start_many(2)
        taken: list[float] = []
        """When each storm alert was answered 200 (stored)."""
        sides: list[tuple[str, int]] = []
        """Each unrelated alert, with how many posts the storm's channel had when it was sent."""

        def send_storm(worker: int) -> None:
            begin = time.monotonic()
            with httpx.Client(timeout=30.0) as client:
                for n in range(worker, STORM_ALERTS, 8):
                    time.sleep(
                        max(0.0, begin + STORM_SECONDS * n / STORM_ALERTS - time.monotonic())
                    )
                    target = started[n % 2]
                    response = client.post(
                        target.url("/api/v1/alerts/alertmanager"),
                        json=alertmanager([storm_alert(n)]),
                        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
                    )
                    assert response.status_code == 200, response.text
                    taken.append(time.monotonic())

        with ThreadPoolExecutor(8) as pool:
            storm = [pool.submit(send_storm, worker) for worker in range(8)]
            for n in itertools.count():  # an unrelated alert every 5 s while the storm lasts
                if all(f.done() for f in storm) and n >= 6:
                    break
                name = f"Side{n:03d}"
                labels = {"alertname": name, "team": "other", "severity": "warning"}
                sides.append((name, len(slack.posted(channel=STORM))))
                post_alerts(started[n % 2], [{"labels": labels, "fingerprint": name}])
                time.sleep(5.0)
            for future in storm:
                future.result()

        wait_until(
            "every storm incident in a card or a digest",
            lambda: visible(slack.calls) >= STORM_ALERTS,
            timeout=240.0,
        )
        posts = slack.posted(channel=STORM)
        assert slack.limited == []  # no 429: the replicas kept Slack's pace together
        # every incident was shown within the horizon's worth of the channel's posts after its
        # alert was taken (a card or a digest count), however fast the alerts came in
        calls = list(slack.calls)
        late = late_incidents(calls, taken)
        digests = [p for p in posts if DIGEST.search(str(p.params.get("text")))]
        assert late == [], (
            f"{len(late)} alerts shown late, e.g. {late[:3]}; {len(posts)} posts, "
            f"{len(digests)} of them digests; storm sent in {max(taken) - min(taken):.1f} s"
        )
        # no unrelated card waited while more than a few of the storm's went out
        other = {
            OWN_CARD.sub(r"\1", str(c.params.get("text"))): c for c in slack.posted(channel=OTHER)
        }
        for name, before in sides:
            card = next(c for c in slack.posted(channel=OTHER) if name in str(c.params.get("text")))
            during = [p for p in posts if p.at <= card.at]
            assert len(during) - before <= STARVED, (name, len(during) - before)
        assert len(other) == len(sides)

        # after the storm, a P0 is shown (own card, or a digest's count going up) at once
        before = len(slack.posted(channel=STORM))
        after = {"alertname": "AfterStormP0", "team": "storm", "severity": "critical"}
        post_alerts(started[0], [{"labels": after, "fingerprint": "after-storm"}])
        wait_until("the P0 after the storm", lambda: visible(slack.calls) > STORM_ALERTS)
        assert len(slack.posted(channel=STORM)) - before <= STARVED
        assert pg.value("SELECT count(*) FROM incidents") == STORM_ALERTS + len(sides) + 1
