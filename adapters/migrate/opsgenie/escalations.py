"""Escalations (`/v2/escalations`). An Opsgenie rule's delay counts from the alert's creation;
a Tocsin step's delay is the wait AFTER it before the next step. Rules with the same delay
become one step; each step waits until the next rule's delay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from typing import Any

from adapters.migrate.opsgenie.api import data
from adapters.migrate.opsgenie.people import person_id
from bot.migrate.catalog import Catalog, Chain, Step, Target, TargetKind
from bot.migrate.reader import ImportFailed, Reader
from bot.migrate.shape import arr, number, obj, text

MAX_REPEAT = 10
_LAST_WAIT = timedelta(minutes=15)
"""The last step's wait when the policy does not repeat (it then has no effect)."""
_SHORTEST = timedelta(seconds=30)
_UNITS = {"minutes": timedelta(minutes=1), "hours": timedelta(hours=1), "days": timedelta(days=1)}
_UNFIT = {
    ("schedule", "next"): "notify the next on call of a schedule: Tocsin pages who is on call now",
    ("schedule", "previous"): "notify the previous on call of a schedule: Tocsin pages who is "
    "on call now",
    ("team", "admins"): "notify admins of a team: Tocsin has no such target",
}
_APPROXIMATE = {
    ("team", "default"): "Opsgenie applies the team's routing rules; Tocsin pages every member "
    "of the group",
    ("team", "users"): "Opsgenie notifies the team's non-admin users; Tocsin pages every member "
    "of the group",
    ("team", "random"): "Opsgenie picks a random member; Tocsin takes turns (round robin)",
}
_EXACT = {("user", "default"), ("schedule", "default"), ("team", "all")}


@dataclass(frozen=True)
class _Rule:
    delay: timedelta
    target: Target
    round_robin: bool


class Escalations:
    """Reads the escalations into `catalog.policies`, and what cannot be carried into
    `catalog.skipped`."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def read(self, reader: Reader) -> None:
        found = arr(await data(reader, "/v2/escalations"), "/v2/escalations.data")
        for i, raw in enumerate(found):
            where = f"/v2/escalations data[{i}]"
            chain = self.chain(obj(raw, where), where)
            if chain is not None:
                self.catalog.policies.append(chain)

    def chain(self, escalation: dict[str, Any], where: str) -> Chain | None:
        origin, name = text(escalation, "id", where), text(escalation, "name", where)
        rules = [
            rule
            for i, raw in enumerate(arr(escalation.get("rules"), f"{where}.rules"))
            if (rule := self.rule(obj(raw, f"{where}.rules[{i}]"), name, f"{where}.rules[{i}]"))
        ]
        if not rules:
            self.catalog.skip("escalation", origin, name, "none of its rules can be carried over")
            return None
        repeat, wait = self.repeat(escalation, origin, name, where)
        team = escalation.get("ownerTeam")
        return Chain(
            origin=origin,
            name=name,
            steps=self.steps(rules, repeat, wait, origin, name),
            repeat=repeat,
            team=text(obj(team, f"{where}.ownerTeam"), "id", f"{where}.ownerTeam")
            if team
            else None,
        )

    def rule(self, rule: dict[str, Any], policy: str, where: str) -> _Rule | None:
        recipient = obj(rule.get("recipient"), f"{where}.recipient")
        kind = text(recipient, "type", f"{where}.recipient")
        notify = text(rule, "notifyType", where, default="default")
        origin = (
            person_id(recipient, self.catalog, f"{where}.recipient")
            if kind == "user"
            else text(recipient, "id", f"{where}.recipient")
        )
        label = _label(recipient, kind)
        if (kind, notify) not in _EXACT | set(_APPROXIMATE):
            reason = _UNFIT.get((kind, notify), f"notify type {notify!r} for a {kind}")
            self.catalog.skip("escalation rule", origin, f"{policy}: {label}", reason)
            return None
        if (kind, notify) in _APPROXIMATE:
            reason = _APPROXIMATE[(kind, notify)]
            self.catalog.differ("escalation rule", origin, f"{policy}: {label}", reason)
        if text(rule, "condition", where, default="if-not-acked") == "if-not-closed":
            self.catalog.differ(
                "escalation rule",
                origin,
                f"{policy}: {label}",
                "condition if-not-closed: Tocsin escalates only while nobody has acknowledged",
            )
        target_kind: TargetKind = (
            "user" if kind == "user" else "schedule" if kind == "schedule" else "team"
        )
        return _Rule(_delay(rule, where), Target(target_kind, origin), notify == "random")

    def repeat(
        self, escalation: dict[str, Any], origin: str, name: str, where: str
    ) -> tuple[int, timedelta]:
        """How many more times the steps run, and the wait before they run again."""
        raw = escalation.get("repeat")
        if raw is None:
            return 0, _LAST_WAIT
        repeat = obj(raw, f"{where}.repeat")
        count = number(repeat, "count", f"{where}.repeat", default=0)
        wait = timedelta(minutes=number(repeat, "waitInterval", f"{where}.repeat", default=0))
        if count > MAX_REPEAT:
            self.catalog.differ(
                "escalation repeat",
                origin,
                name,
                f"repeats {count} times: Tocsin repeats a policy at most {MAX_REPEAT} times",
            )
        for flag, words in (
            ("resetRecipientStates", "resetting recipients' states on repeat"),
            ("closeAlertAfterAll", "closing the alert after the last repeat"),
        ):
            if repeat.get(flag) is True:
                self.catalog.skip(
                    "escalation repeat", origin, name, f"{words}: Tocsin has no such setting"
                )
        return min(count, MAX_REPEAT), wait

    def steps(
        self, rules: list[_Rule], repeat: int, wait: timedelta, origin: str, name: str
    ) -> tuple[Step, ...]:
        ordered = sorted(rules, key=lambda rule: rule.delay)
        groups = [list(group) for _, group in groupby(ordered, key=lambda rule: rule.delay)]
        first = groups[0][0].delay
        if first > timedelta(0):
            self.catalog.differ(
                "escalation rule",
                origin,
                name,
                f"the first rule waits {_minutes(first)} after the alert: Tocsin pages the first "
                "step at once",
            )
        steps: list[Step] = []
        for i, group in enumerate(groups):
            if i + 1 < len(groups):
                delay = groups[i + 1][0].delay - group[0].delay
            else:
                delay = max(wait + first, _SHORTEST) if repeat else _LAST_WAIT
            targets = tuple(dict.fromkeys(rule.target for rule in group))
            steps.append(Step(targets, delay, all(rule.round_robin for rule in group)))
        return tuple(steps)


def _label(recipient: dict[str, Any], kind: str) -> str:
    for key in ("name", "username", "id"):
        if isinstance(recipient.get(key), str):
            return f"{kind} {recipient[key]}"
    return kind


def _delay(rule: dict[str, Any], where: str) -> timedelta:
    raw = rule.get("delay")
    if raw is None:
        return timedelta(0)
    delay = obj(raw, f"{where}.delay")
    unit = text(delay, "timeUnit", f"{where}.delay", default="minutes")
    if unit not in _UNITS:
        raise ImportFailed(f"{where}.delay.timeUnit: {unit!r} is not minutes, hours or days")
    return _UNITS[unit] * number(delay, "timeAmount", f"{where}.delay", default=0)


def _minutes(delay: timedelta) -> str:
    return f"{int(delay.total_seconds() // 60)} min"
