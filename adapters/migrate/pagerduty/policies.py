"""PagerDuty escalation policies (``GET /escalation_policies``) and services
(``GET /services``, each naming its escalation policy).

An escalation rule's ``escalation_delay_in_minutes`` is how long PagerDuty waits on that rule
before escalating to the next one, which is Tocsin's `delay`; ``num_loops`` is how many times
the whole policy runs again, which is Tocsin's `repeat`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from adapters.migrate.pagerduty.api import listing, reference
from bot.migrate.catalog import Catalog, Chain, Routing, Step, Target, TargetKind
from bot.migrate.reader import Reader
from bot.migrate.shape import arr, number, obj, text

_TARGETS: dict[str, TargetKind] = {
    "user_reference": "user",
    "user": "user",
    "schedule_reference": "schedule",
    "schedule": "schedule",
}


async def read_policies(reader: Reader, catalog: Catalog) -> None:
    path = "/escalation_policies"
    for index, policy in enumerate(await listing(reader, path, "escalation_policies")):
        where = f"{path}: escalation_policies[{index}]"
        origin, name = text(policy, "id", where), text(policy, "name", where)
        rules = arr(policy.get("escalation_rules"), f"{where}.escalation_rules")
        steps = tuple(
            _step(
                obj(rule, f"{where}.escalation_rules[{n}]"),
                f"{where}.escalation_rules[{n}]",
                f"{name} / rule {n + 1}",
                catalog,
            )
            for n, rule in enumerate(rules)
        )
        teams = arr(policy.get("teams") or [], f"{where}.teams")
        team = reference(teams[0], f"{where}.teams[0]") if teams else None
        loops = number(policy, "num_loops", where, default=0)
        catalog.policies.append(Chain(origin, name, steps, repeat=loops, team=team))
        if policy.get("on_call_handoff_notifications") == "always":
            catalog.skip(
                "hand-off notifications",
                origin,
                name,
                "PagerDuty tells people of every on-call hand-off of this policy: Tocsin"
                " announces hand-offs in chats instead, see the schedule's announce",
            )


def _step(rule: dict[str, Any], where: str, label: str, catalog: Catalog) -> Step:
    """A rule as a step; targets Tocsin cannot page are reported (a step left with none is
    dropped when the policy is written, its wait added to the step before)."""
    targets: list[Target] = []
    for index, entry in enumerate(arr(rule.get("targets"), f"{where}.targets")):
        spot = f"{where}.targets[{index}]"
        found = obj(entry, spot)
        kind, origin = text(found, "type", spot), reference(found, spot)
        if kind in _TARGETS:
            targets.append(Target(_TARGETS[kind], origin))
        else:
            catalog.skip(
                "escalation target",
                origin,
                label,
                f"target kind {kind!r}: Tocsin pages users, schedules and groups",
            )
    delay = timedelta(minutes=number(rule, "escalation_delay_in_minutes", where))
    return Step(tuple(targets), delay, round_robin=_strategy(rule, where) == "round_robin")


def _strategy(rule: dict[str, Any], where: str) -> str:
    """``escalation_rule_assignment_strategy``: an object with a ``type`` (``assign_to_everyone``
    or ``round_robin``); older answers give the word alone."""
    value = rule.get("escalation_rule_assignment_strategy")
    if value is None or isinstance(value, str):
        return value or "assign_to_everyone"
    return text(
        obj(value, f"{where}.escalation_rule_assignment_strategy"),
        "type",
        f"{where}.escalation_rule_assignment_strategy",
    )


async def read_services(reader: Reader, catalog: Catalog) -> None:
    """Each active service routes alerts with its name as the ``service`` label to its policy;
    what a service decides besides (urgency, support hours, timeouts) is reported."""
    for index, service in enumerate(await listing(reader, "/services", "services")):
        where = f"/services: services[{index}]"
        origin, name = text(service, "id", where), text(service, "name", where)
        if service.get("status") == "disabled":
            catalog.skip("service", origin, name, "disabled in PagerDuty, so no route is made")
            continue
        policy = reference(service.get("escalation_policy"), f"{where}.escalation_policy")
        catalog.routes.append(Routing(origin, name, service=name, policy=policy))
        for reason in _service_settings(service, where):
            catalog.skip("service setting", origin, name, reason)


def _service_settings(service: dict[str, Any], where: str) -> list[str]:
    reasons = []
    rule = service.get("incident_urgency_rule")
    if rule is not None:
        found = obj(rule, f"{where}.incident_urgency_rule")
        kind = text(found, "type", f"{where}.incident_urgency_rule")
        urgency = found.get("urgency")
        if kind != "constant" or urgency != "high":
            shown = kind if kind != "constant" else f"always {urgency}"
            reasons.append(
                f"incident urgency rule ({shown}): Tocsin takes the tier from the alert; a route"
                " can name a policy per tier (escalation_policy: {P0: …, P3: …})"
            )
    if service.get("support_hours") is not None:
        reasons.append("support hours: Tocsin has no per-service support hours")
    ack = service.get("acknowledgement_timeout")
    if ack:
        reasons.append(
            f"acknowledgement timeout of {ack}s: Tocsin has one for every incident,"
            " incidents.ack_timeout"
        )
    resolve = service.get("auto_resolve_timeout")
    if resolve:
        reasons.append(f"auto-resolve after {resolve}s: Tocsin has no per-service auto-resolve")
    return reasons
