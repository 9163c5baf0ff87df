"""Workload generation for the ingest benchmark (``bench/ingest.py``): the request bytes of
Alertmanager v4 webhooks, built before the clock starts (`Workload` for ``--workload groups``,
`MixedWorkload` for ``--workload mixed``), and the constants they share with the server config."""

from __future__ import annotations

import hashlib
import random
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

HOST = "127.0.0.1"
WEBHOOK_TOKEN = secrets.token_urlsafe(24)
PATH = "/api/v1/alerts/alertmanager"

REPEAT_SHARE = 0.7
POOL_SIZE = 1_000
"""Alerts of the `mixed` workload's pool (sent before the measured phase)."""
RESOLVED_SHARE = 5 / 7
"""Share of the pool resolved before the measured phase (`mixed` workload)."""

ALERTNAMES = {
    "HighLatency": "warning",
    "HighErrorRate": "critical",
    "PodCrashLooping": "high",
    "DiskSpaceLow": "warning",
    "MemoryPressure": "warning",
    "CPUThrottling": "info",
    "TargetDown": "critical",
    "CertificateExpiring": "warning",
    "QueueBacklog": "high",
    "ReplicationLag": "high",
    "SLOBurnRate": "critical",
    "ConnectionPoolExhausted": "high",
    "HighGCPause": "info",
    "NodeNotReady": "critical",
    "PersistentVolumeFull": "high",
    "KafkaConsumerLag": "warning",
    "HTTP5xxSpike": "critical",
    "CronJobFailed": "warning",
    "DNSFailures": "high",
    "TLSHandshakeErrors": "warning",
}
SERVICES = (
    "orders",
    "payments",
    "storefront",
    "checkout",
    "inventory",
    "search",
    "auth",
    "gateway",
    "billing",
    "shipping",
    "notifications",
    "catalog",
    "recommendations",
    "reviews",
    "ledger",
)
ENVS = ("prod", "prod", "prod", "staging")
SEVERITIES = ("critical", "warning", "info")
POOL_SERVICES = SERVICES[:10]
ROUTE = "ops"
"""The config's one route: incidents' group keys are `ops|<groupKey>`."""
CONSOLE_CHAT = "ops"


@dataclass(slots=True)
class Alert:
    group: int
    labels: dict[str, str]
    annotations: dict[str, str]
    fragment: bytes
    """The alert's JSON object, serialised once: a repeat sends exactly the same bytes."""
    starts: datetime
    firing: bool = True


@dataclass(slots=True)
class Request:
    data: bytes
    alerts: int
    repeats: int


@dataclass(frozen=True, slots=True)
class Group:
    """An Alertmanager group: its `groupKey` and `groupLabels`."""

    key: str
    labels: dict[str, str]


def request_head() -> bytes:
    """The request line and headers up to Content-Length. `Host` names no port, so the very
    same bytes go to every server of a run (Tocsin and the bare baseline)."""
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Authorization: Bearer {WEBHOOK_TOKEN}\r\n"
        "Content-Type: application/json\r\nUser-Agent: tocsin-bench\r\n"
    ).encode()


def rfc3339(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond:06d}Z"


def alert_fragment(
    labels: dict[str, str],
    annotations: dict[str, str],
    starts: datetime,
    ends: datetime | None = None,
) -> bytes:
    """One entry of `alerts[]`: firing, or resolved when `ends` is given."""
    canonical = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
    expr = f"ALERTS%7Balertname%3D%22{labels['alertname']}%22%7D"
    body = {
        "status": "firing" if ends is None else "resolved",
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(starts),
        "endsAt": "0001-01-01T00:00:00Z" if ends is None else rfc3339(ends),
        "generatorURL": f"http://prometheus:9090/graph?g0.expr={expr}&g0.tab=1",
        "fingerprint": hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest(),
    }
    return orjson.dumps(body)


def instance(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}:9100"


def render(head: bytes, group: Group, items: list[Alert]) -> bytes:
    """The whole HTTP request: an Alertmanager v4 webhook for `group` carrying `items`."""
    common_labels = dict(items[0].labels)
    common_annotations = dict(items[0].annotations)
    for alert in items[1:]:
        common_labels = {k: v for k, v in common_labels.items() if alert.labels.get(k) == v}
        common_annotations = {
            k: v for k, v in common_annotations.items() if alert.annotations.get(k) == v
        }
    envelope = orjson.dumps(
        {
            "version": "4",
            "groupKey": group.key,
            "truncatedAlerts": 0,
            "status": "firing" if any(a.firing for a in items) else "resolved",
            "receiver": "tocsin",
            "groupLabels": group.labels,
            "commonLabels": common_labels,
            "commonAnnotations": common_annotations,
            "externalURL": "http://alertmanager:9093",
            "alerts": [],
        }
    )
    assert envelope.endswith(b"[]}")
    body = envelope[:-2] + b",".join(a.fragment for a in items) + b"]}"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def group_of(labels: dict[str, str], names: tuple[str, ...]) -> Group:
    picked = {name: labels[name] for name in names}
    inner = ", ".join(f'{k}="{v}"' for k, v in picked.items())
    return Group(f"{{}}:{{{inner}}}", picked)


class Workload:
    """`groups`: Alertmanager v4 webhook bodies, 70 % repeats of already sent alerts, 30 % new.

    New alerts go to a random group (alertname x service, 300 by default), so incidents keep
    being opened throughout a run. A repeat is an alert sent by an earlier request (same
    fingerprint and startsAt), picked from the pool of alerts sent at least `lag` requests
    before, so it is (almost always) already stored when it arrives again.

    A 50-alert request names one Alertmanager group: the group's 15 new alerts plus 35 repeats
    from that group's pool. Early on a group has fewer than 35 sent alerts; the shortfall is
    filled with repeats from other groups so the 70/30 mix holds. With `group_only` it is not
    (every request then carries only its own group's alerts, exactly as Alertmanager sends them,
    and the share of repeats is lower until the groups have filled up).
    """

    name = "groups"

    def __init__(self, *, groups: int, seed: int, lag: int, group_only: bool = False) -> None:
        self.rng = random.Random(seed)
        pairs = [(a, s) for a in ALERTNAMES for s in SERVICES]
        self.rng.shuffle(pairs)
        self.groups = pairs[: max(1, min(groups, len(pairs)))]
        self.lag = lag
        self.group_only = group_only
        self.pool: list[Alert] = []
        self.by_group: list[list[Alert]] = [[] for _ in self.groups]
        self.pending: deque[tuple[int, list[Alert]]] = deque()
        self.count = 0
        self.index = 0
        self.now = datetime.now(UTC)
        self.head = request_head()

    def setup(self) -> list[Request]:
        """Nothing is sent before the warm-up."""
        return []

    def history(self) -> list[Group]:
        """The groups this workload sends to (what `--preload` writes past incidents of)."""
        return [self._group(i) for i in range(len(self.groups))]

    def requests(self, n: int, per_request: int) -> list[Request]:
        return [self._next(per_request) for _ in range(n)]

    # -- one request ------------------------------------------------------------------------

    def _group(self, index: int) -> Group:
        alertname, service = self.groups[index]
        return group_of({"alertname": alertname, "service": service}, ("alertname", "service"))

    def _next(self, per_request: int) -> Request:
        while self.pending and self.pending[0][0] <= self.index - self.lag:
            for alert in self.pending.popleft()[1]:
                self.pool.append(alert)
                self.by_group[alert.group].append(alert)
        if per_request == 1:
            if self.pool and self.rng.random() < REPEAT_SHARE:
                chosen, fresh = [self.rng.choice(self.pool)], []
            else:
                chosen, fresh = [], [self._new(self.rng.randrange(len(self.groups)))]
            group = (chosen or fresh)[0].group
        else:
            group = self.rng.randrange(len(self.groups))
            want = round(per_request * REPEAT_SHARE)
            chosen = self._repeats(group, want)
            fresh = [self._new(group) for _ in range(per_request - len(chosen))]
        if fresh:
            self.pending.append((self.index, fresh))
        self.index += 1
        return Request(
            render(self.head, self._group(group), chosen + fresh), per_request, len(chosen)
        )

    def _repeats(self, group: int, want: int) -> list[Alert]:
        own = self.by_group[group]
        chosen = self.rng.sample(own, min(want, len(own)))
        if len(chosen) < want and len(self.pool) > len(own) and not self.group_only:
            taken = {id(a) for a in chosen}
            for _ in range(20 * want):
                if len(chosen) >= want:
                    break
                alert = self.rng.choice(self.pool)
                if alert.group != group and id(alert) not in taken:
                    taken.add(id(alert))
                    chosen.append(alert)
        return chosen

    def _new(self, group: int) -> Alert:
        self.count += 1
        n = self.count
        alertname, service = self.groups[group]
        env = self.rng.choice(ENVS)
        labels = {
            "alertname": alertname,
            "service": service,
            "env": env,
            "severity": ALERTNAMES[alertname],
            "instance": instance(n),
        }
        annotations = {"summary": f"{alertname} on {service} ({env}), instance #{n}"}
        starts = self.now - timedelta(seconds=self.rng.randrange(60, 7200))
        return Alert(
            group, labels, annotations, alert_fragment(labels, annotations, starts), starts
        )


class MixedWorkload:
    """`mixed`: requests that mix groups, over a pool of alerts that exist before the run.

    The pool: 1,000 alerts over 20 alert names x 10 services x 3 severities (600 Alertmanager
    groups, `groupKey` by alertname, service and severity; alert i is in group i mod 600 and
    has its own `instance`). `setup()` sends them all firing, one request per group, then 5/7
    of them (picked at random) resolved, again one request per group; that happens before the
    warm-up and is not measured.

    Every request then carries 70 % repeats, picked uniformly from the whole pool (without
    replacement within a request, as Alertmanager never sends an alert twice in one batch), each
    re-sent exactly as it now stands (firing, or resolved; same startsAt: a de-duplication),
    and 30 % new alerts (new fingerprints: a new `instance` label). The request's `groupKey`
    and `groupLabels` are those of its first alert's group, and its new alerts are of that
    group (same alertname, service and severity), so they join that group's incident the way
    Alertmanager would group them; when that incident was resolved during the setup, the new
    alert re-opens it. A 1-alert request is a repeat (70 %) or a new alert of a random group.
    """

    name = "mixed"

    def __init__(self, *, seed: int, pool: int = POOL_SIZE) -> None:
        self.rng = random.Random(seed)
        self.now = datetime.now(UTC)
        self.head = request_head()
        self.combos = [(a, s, sev) for a in ALERTNAMES for s in POOL_SERVICES for sev in SEVERITIES]
        self.count = 0
        self.firing = [self._new(i % len(self.combos)) for i in range(pool)]
        resolved = set(self.rng.sample(range(pool), round(pool * RESOLVED_SHARE)))
        self.pool = [self._resolve(a) if i in resolved else a for i, a in enumerate(self.firing)]
        self.resolved = [a for a in self.pool if not a.firing]

    def setup(self) -> list[Request]:
        """The pool, all firing, then 5/7 of it resolved; one request per group each time."""
        return self._by_group(self.firing) + self._by_group(self.resolved)

    def history(self) -> list[Group]:
        return [self._group(i) for i in range(len(self.combos))]

    def requests(self, n: int, per_request: int) -> list[Request]:
        return [self._next(per_request) for _ in range(n)]

    def _by_group(self, items: list[Alert]) -> list[Request]:
        groups: dict[int, list[Alert]] = {}
        for alert in items:
            groups.setdefault(alert.group, []).append(alert)
        return [
            Request(render(self.head, self._group(g), members), len(members), 0)
            for g, members in sorted(groups.items())
        ]

    def _group(self, index: int) -> Group:
        alertname, service, severity = self.combos[index]
        labels = {"alertname": alertname, "service": service, "severity": severity}
        return group_of(labels, ("alertname", "service", "severity"))

    def _next(self, per_request: int) -> Request:
        repeats = round(per_request * REPEAT_SHARE)
        if per_request == 1:
            repeats = 1 if self.rng.random() < REPEAT_SHARE else 0
        chosen = self.rng.sample(self.pool, repeats)
        kinds = [True] * repeats + [False] * (per_request - repeats)
        self.rng.shuffle(kinds)
        group = chosen[0].group if kinds[0] else self.rng.randrange(len(self.combos))
        taken = iter(chosen)
        items = [next(taken) if repeat else self._new(group) for repeat in kinds]
        return Request(render(self.head, self._group(group), items), per_request, repeats)

    def _new(self, group: int) -> Alert:
        self.count += 1
        n = self.count
        alertname, service, severity = self.combos[group]
        env = self.rng.choice(ENVS)
        labels = {
            "alertname": alertname,
            "service": service,
            "env": env,
            "severity": severity,
            "instance": instance(n),
        }
        annotations = {"summary": f"{alertname} on {service} ({env}), instance #{n}"}
        starts = self.now - timedelta(seconds=self.rng.randrange(600, 7200))
        return Alert(
            group, labels, annotations, alert_fragment(labels, annotations, starts), starts
        )

    def _resolve(self, alert: Alert) -> Alert:
        """The same alert (same fingerprint and startsAt), resolved a little while ago."""
        ends = max(alert.starts, self.now - timedelta(seconds=self.rng.randrange(5, 300)))
        fragment = alert_fragment(alert.labels, alert.annotations, alert.starts, ends)
        return Alert(alert.group, alert.labels, alert.annotations, fragment, alert.starts, False)
