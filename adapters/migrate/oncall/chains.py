"""Grafana OnCall escalation chains (their steps are ``escalation_policies``) as Tocsin
policies, and integrations' default routes as Tocsin routing.

OnCall runs a chain's steps one after another without pausing; a ``wait`` step is the pause.
Tocsin's step has a `delay`, the wait after it, so each run of waits becomes the delay of the
step before it. ``repeat_escalation`` runs the chain again from the start, at most
`REPEATS` times."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from adapters.migrate.oncall.pages import Found
from bot.migrate.catalog import Catalog, Chain, Routing, Step, Target, TargetKind
from bot.migrate.reader import ImportFailed
from bot.migrate.shape import arr, number, obj, text

REPEATS = 5
"""OnCall's "Repeat escalation from the beginning (5 times max)"."""

TARGETS: dict[str, tuple[str, TargetKind, bool]] = {
    "notify_persons": ("persons_to_notify", "user", False),
    "notify_person_next_each_time": ("persons_to_notify_next_each_time", "user", True),
    "notify_on_call_from_schedule": ("notify_on_call_from_schedule", "schedule", False),
    "notify_team_members": ("team_to_notify", "team", False),
}
"""Step type → (field naming the targets, target kind, round robin)."""

UNCARRIED = {
    "trigger_webhook": "webhook step: Tocsin escalation policies only page people",
    "trigger_action": "webhook step: Tocsin escalation policies only page people",
    "notify_user_group": "Slack user group: Tocsin has no such target (use a group of users)",
    "notify_whole_channel": "notify the whole Slack channel: Tocsin has no such target "
    "(the route's chats are told anyway)",
    "resolve": "resolve step: Tocsin never resolves an incident on its own",
    "notify_if_time_from_to": "condition on the time of day: Tocsin runs every step; the "
    "steps after it now always run",
    "notify_if_num_alerts_in_window": "condition on the number of alerts: Tocsin runs every "
    "step; the steps after it now always run",
    "declare_incident": "declare incident step: Tocsin has no such action",
}


@dataclass(slots=True)
class _Draft:
    steps: list[Step] = field(default_factory=list)
    lead: timedelta = timedelta(0)
    """Waits before the first step Tocsin keeps."""
    repeat: int = 0

    def wait(self, seconds: int) -> None:
        if not self.steps:
            self.lead += timedelta(seconds=seconds)
            return
        last = self.steps[-1]
        self.steps[-1] = Step(
            last.targets, last.delay + timedelta(seconds=seconds), last.round_robin
        )


def read_chains(chains: Sequence[Found], policies: Sequence[Found], catalog: Catalog) -> None:
    """Add each chain of `chains` with its steps from `policies` to `catalog`."""
    steps: dict[str, list[Found]] = {}
    for data, where in policies:
        steps.setdefault(text(data, "escalation_chain_id", where), []).append((data, where))
    for data, where in chains:
        origin, name = text(data, "id", where), text(data, "name", where)
        ordered = sorted(
            steps.get(origin, []), key=lambda f: number(f[0], "position", f[1], default=0)
        )
        chain = _chain(origin, name, ordered, catalog)
        if chain is None:
            continue
        team = data.get("team_id")
        catalog.policies.append(
            Chain(
                origin,
                name,
                tuple(chain.steps),
                chain.repeat,
                team if isinstance(team, str) else None,
            )
        )


def _chain(origin: str, name: str, policies: list[Found], catalog: Catalog) -> _Draft | None:
    draft = _Draft()
    for number_, (data, where) in enumerate(policies, 1):
        kind = text(data, "type", where, default="")
        label = f"{name} step {number_}"
        if kind == "wait":
            draft.wait(number(data, "duration", where))
        elif kind == "repeat_escalation":
            draft.repeat = REPEATS
            if number_ < len(policies):
                catalog.differ(
                    "escalation step",
                    text(data, "id", where),
                    label,
                    "steps after 'repeat escalation' run once the repeats are over; Tocsin "
                    "repeats the whole policy, those steps included",
                )
        elif kind in TARGETS:
            draft.steps.append(_step(data, where, kind))
            if data.get("important") is True:
                catalog.differ(
                    "escalation step",
                    text(data, "id", where),
                    label,
                    "important notifications: Tocsin pages by the incident's tier, see "
                    "paging.channels (the step itself is carried)",
                )
        else:
            reason = UNCARRIED.get(kind, f"step type {kind or 'none'!r}: Tocsin has no such step")
            catalog.skip("escalation step", text(data, "id", where), label, reason)
    if draft.lead and draft.steps:
        catalog.differ(
            "escalation wait",
            origin,
            name,
            f"waits {draft.lead} before its first step: Tocsin pages the first step at once",
        )
    if not draft.steps:
        catalog.skip("escalation chain", origin, name, "no step Tocsin can carry")
        return None
    return draft


def _step(data: dict[str, Any], where: str, kind: str) -> Step:
    key, target_kind, round_robin = TARGETS[kind]
    value = data.get(key)
    values = value if isinstance(value, list) else [value]
    where = f"{where}.{key}"
    origins: list[str] = []
    for index, item in enumerate(arr(values, where)):
        if not isinstance(item, str) or not item:
            at = f"{where}[{index}]" if isinstance(value, list) else where
            raise ImportFailed(f"{at}: expected an id, found {item!r}")
        origins.append(item)
    return Step(
        targets=tuple(Target(target_kind, o) for o in origins),
        delay=timedelta(0),
        round_robin=round_robin,
    )


def read_routing(integrations: Sequence[Found], routes: Sequence[Found], catalog: Catalog) -> None:
    """Each integration's default route becomes Tocsin routing for the service named like the
    integration; routes that pick alerts by a regular expression or template are reported."""
    names: dict[str, str] = {}
    carried = {chain.origin for chain in catalog.policies}
    for data, where in integrations:
        origin, name = text(data, "id", where), text(data, "name", where)
        names[origin] = name
        default = obj(data.get("default_route") or {}, f"{where}.default_route")
        chain = default.get("escalation_chain_id")
        if chain is None:
            catalog.skip("integration", origin, name, "its default route has no escalation chain")
        elif not isinstance(chain, str):
            raise ImportFailed(
                f"{where}.default_route.escalation_chain_id: expected an id, found {chain!r}"
            )
        elif chain in carried:
            catalog.routes.append(Routing(origin=origin, name=name, service=name, policy=chain))
        else:
            catalog.skip(
                "integration", origin, name, f"its escalation chain {chain} was not carried"
            )
    for data, where in routes:
        if data.get("is_the_last_route") is True:
            continue  # the integration's default route, carried above
        owner = names.get(text(data, "integration_id", where), "an integration")
        rule = text(data, "routing_regex", where, default="")
        catalog.skip(
            "route",
            text(data, "id", where),
            f"{owner}: {rule}",
            "picks alerts by a regular expression or Jinja2 template over the payload; "
            "Tocsin routes by labels: add a route by hand",
        )
