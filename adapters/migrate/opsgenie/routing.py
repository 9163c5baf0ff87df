"""Team routing rules (`/v2/teams/{id}/routing-rules`). A rule that sends alerts of one service
to an escalation maps onto a Tocsin route by the `service` label; the service is read from a
single condition on the alert's extra property ``service`` (equals) or a ``service:<name>`` tag
(contains). Anything else is reported."""

from __future__ import annotations

from typing import Any

from adapters.migrate.opsgenie.api import data
from bot.migrate.catalog import Catalog, Routing
from bot.migrate.reader import Reader
from bot.migrate.shape import arr, obj, text

_CRITERIA = ("match-all-conditions", "match-any-condition")


async def read_routes(reader: Reader, catalog: Catalog) -> None:
    for team in list(catalog.teams):
        path = f"/v2/teams/{team.origin}/routing-rules"
        found = arr(await data(reader, path, {"teamIdentifierType": "id"}), f"{path}.data")
        for i, raw in enumerate(found):
            where = f"{path} data[{i}]"
            rule = obj(raw, where)
            origin, name = text(rule, "id", where), text(rule, "name", where, default="")
            label = f"{team.name}: {name or 'unnamed rule'}"
            found_route = _route(rule, catalog, where)
            if isinstance(found_route, str):
                catalog.skip("routing rule", origin, label, found_route)
            else:
                catalog.routes.append(Routing(origin, label, *found_route))


def _route(rule: dict[str, Any], catalog: Catalog, where: str) -> tuple[str, str] | str:
    """(service, policy origin) for a rule that maps, else the reason it does not."""
    notify = obj(rule.get("notify"), f"{where}.notify")
    kind = text(notify, "type", f"{where}.notify")
    if kind == "none":
        return "routes alerts to no one (suppression): Tocsin has no such route"
    if kind != "escalation":
        return f"routes alerts straight to a {kind}: Tocsin routes to escalation policies"
    if rule.get("isDefault") is True:
        return "the team's default rule: set paging.default_policy or a route by hand"
    if rule.get("timeRestriction") is not None:
        return "the rule applies at some times only: Tocsin routes do not depend on the time"
    policy = _policy(notify, catalog, f"{where}.notify")
    if policy is None:
        return "routes to an escalation that was not carried over"
    service = _service(obj(rule.get("criteria"), f"{where}.criteria"), f"{where}.criteria")
    if service is None:
        return "its conditions are not one service: write the route's matchers by hand"
    return service, policy


def _policy(notify: dict[str, Any], catalog: Catalog, where: str) -> str | None:
    wanted_id = notify.get("id")
    wanted_name = notify.get("name")
    for chain in catalog.policies:
        if chain.origin == wanted_id or (wanted_id is None and chain.name == wanted_name):
            return chain.origin
    return None


def _service(criteria: dict[str, Any], where: str) -> str | None:
    if text(criteria, "type", where) not in _CRITERIA:
        return None
    conditions = arr(criteria.get("conditions", []), f"{where}.conditions")
    if len(conditions) != 1:
        return None
    condition = obj(conditions[0], f"{where}.conditions[0]")
    here = f"{where}.conditions[0]"
    if condition.get("not") is True:
        return None
    field = text(condition, "field", here)
    operation = text(condition, "operation", here)
    expected = text(condition, "expectedValue", here, default="")
    if field == "extra-properties" and operation == "equals" and condition.get("key") == "service":
        return expected or None
    if field == "tags" and operation == "contains" and expected.startswith("service:"):
        return expected.removeprefix("service:") or None
    return None
