"""A `Catalog` turned into Tocsin configuration, weighed against what the configuration
already holds: each item is added, changed (it came from an earlier import and differs),
unchanged, already present, or in conflict with a hand-written item of the same name (then it
is not written, and the plan says why)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from bot.migrate.body import policy_body, schedule_body
from bot.migrate.catalog import Catalog, Person, Skipped
from bot.migrate.names import Namer, slug, user_id
from bot.settings.oncall import EscalationPolicy, Schedule
from bot.settings.schema import Route, User

Status = Literal["add", "change", "unchanged", "present", "conflict", "remove"]
SECTIONS = ("users", "groups", "schedules", "escalation_policies", "routes")
WRITTEN: tuple[Status, ...] = ("add", "change", "unchanged")
_MODELS: dict[str, type[BaseModel]] = {
    "users": User,
    "schedules": Schedule,
    "escalation_policies": EscalationPolicy,
    "routes": Route,
}


@dataclass(slots=True)
class Item:
    section: str
    key: str
    body: Any
    origin: str
    title: str
    status: Status = "add"
    detail: str = ""


@dataclass(slots=True)
class Proposal:
    vendor: str
    items: list[Item] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Carried over with a change worth reading (a delay raised to Tocsin's minimum…)."""
    users: dict[str, str] = field(default_factory=dict)
    """Person origin id → Tocsin user id (matched or proposed)."""
    matched: dict[str, str] = field(default_factory=dict)
    """The people matched by e-mail with users the configuration already has."""
    schedules: dict[str, str] = field(default_factory=dict)
    """Schedule origin id → its Tocsin name."""
    emails: dict[str, str] = field(default_factory=dict)
    """Person origin id → e-mail address, for the plan's lines."""

    def written(self, section: str) -> list[Item]:
        return [i for i in self.items if i.section == section and i.status in WRITTEN]

    def document(self) -> dict[str, Any]:
        """The sections of the file to merge, in the order they are written."""
        doc: dict[str, Any] = {}
        for section in SECTIONS:
            items = self.written(section)
            if not items:
                continue
            if section in ("users", "routes"):
                doc[section] = [i.body for i in items]
            else:
                doc[section] = {i.key: i.body for i in items}
        return doc


def convert(
    catalog: Catalog,
    title: str,
    base: dict[str, Any],
    previous: dict[str, Any] | None,
    *,
    now: datetime,
    prefix: str = "",
    chats: list[str] | None = None,
) -> Proposal:
    """What `catalog` becomes next to the configuration `base` (its document without the
    import file) and the import file's `previous` content, if any. `chats` are the
    destinations imported routes post to (default: `default_route`'s)."""
    out = Proposal(vendor=title, skipped=list(catalog.skipped))
    out.notes += [f"{d.kind} {d.name!r} ({d.origin}): {d.reason}" for d in catalog.differences]
    _people(catalog, base, out)
    teams = _teams(catalog, prefix, out)
    _schedules(catalog, prefix, now, out)
    policies = _policies(catalog, prefix, teams, out)
    _routes(catalog, base, prefix, policies, chats, out)
    _weigh(out, base, previous or {})
    return out


def _existing(base: dict[str, Any], section: str) -> dict[str, Any]:
    value = base.get(section)
    if section in ("users", "routes"):
        items = value if isinstance(value, list) else []
        key = "id" if section == "users" else "name"
        return {str(i.get(key)): i for i in items if isinstance(i, dict) and i.get(key)}
    return value if isinstance(value, dict) else {}


def _people(catalog: Catalog, base: dict[str, Any], out: Proposal) -> None:
    users = _existing(base, "users")
    by_email = {}
    for uid, user in users.items():
        email = ((user.get("contact") or {}).get("email") or "").strip().lower()
        if email:
            by_email[email] = uid
    namer = Namer(set(users))
    for person in catalog.people:
        out.emails[person.origin] = person.email
        known = by_email.get(person.email.strip().lower()) if person.email else None
        if known:
            out.users[person.origin] = out.matched[person.origin] = known
            _contact_notes(person, users[known], out)
            continue
        wanted = user_id(person.email, person.name, person.origin)
        uid = namer.claim(wanted)
        out.users[person.origin] = uid
        body: dict[str, Any] = {"id": uid, "name": person.name}
        contact = {k: v for k, v in (("email", person.email), ("phone", person.phone)) if v}
        if contact:
            body["contact"] = contact
        detail = "" if person.email else "no e-mail address to match an existing user by"
        if uid != wanted and wanted in users:
            detail = (
                f"the id {wanted!r} is taken by a user without this e-mail: if they are the "
                "same person, give that user the address and import again"
            )
        out.items.append(Item("users", uid, body, person.origin, person.name, detail=detail))


def _contact_notes(person: Person, user: dict[str, Any], out: Proposal) -> None:
    contact = user.get("contact") or {}
    if person.phone and not contact.get("phone"):
        out.notes.append(
            f"user {user.get('id')}: {out.vendor} has the phone number {person.phone}, "
            "the configuration none (add it by hand to page them by SMS or voice)"
        )


def _teams(catalog: Catalog, prefix: str, out: Proposal) -> dict[str, str]:
    names: dict[str, str] = {}
    namer = Namer(prefix=prefix)
    for team in catalog.teams:
        members = [out.users[m] for m in team.members if m in out.users]
        if not members:
            out.skipped.append(Skipped("team", team.origin, team.name, "it has no members"))
            continue
        key = namer.claim(slug(team.name, team.origin))
        names[team.origin] = key
        out.items.append(Item("groups", key, members, team.origin, team.name))
    return names


def _schedules(catalog: Catalog, prefix: str, now: datetime, out: Proposal) -> None:
    namer = Namer(prefix=prefix)
    for rota in catalog.schedules:
        body, problems = schedule_body(rota, out.users, now)
        if body is None:
            out.skipped.append(Skipped("schedule", rota.origin, rota.name, "; ".join(problems)))
            continue
        out.notes += [f"schedule {rota.name!r}: {p}" for p in problems]
        key = namer.claim(slug(rota.name, rota.origin))
        out.schedules[rota.origin] = key
        out.items.append(Item("schedules", key, body, rota.origin, rota.name))


def _policies(
    catalog: Catalog, prefix: str, teams: dict[str, str], out: Proposal
) -> dict[str, str]:
    names: dict[str, str] = {}
    namer = Namer(prefix=prefix)
    refs = {"user": out.users, "schedule": out.schedules, "team": teams}
    for chain in catalog.policies:
        body, problems = policy_body(chain, refs)
        if body is None:
            out.skipped.append(
                Skipped("escalation policy", chain.origin, chain.name, "; ".join(problems))
            )
            continue
        out.notes += [f"escalation policy {chain.name!r}: {p}" for p in problems]
        key = namer.claim(slug(chain.name, chain.origin))
        names[chain.origin] = key
        out.items.append(Item("escalation_policies", key, body, chain.origin, chain.name))
    return names


def _routes(
    catalog: Catalog,
    base: dict[str, Any],
    prefix: str,
    policies: dict[str, str],
    chats: list[str] | None,
    out: Proposal,
) -> None:
    fallback = (base.get("default_route") or {}).get("destinations")
    destinations = chats or (list(fallback) if isinstance(fallback, list) else [])
    namer = Namer(prefix=prefix)
    for route in catalog.routes:
        if route.policy not in policies:
            reason = "its escalation policy was not imported"
        elif not destinations:
            reason = "a Tocsin route posts to a chat: set default_route or pass --chat"
        else:
            reason = ""
        if reason:
            out.skipped.append(Skipped("routing", route.origin, route.name, reason))
            continue
        key = namer.claim(slug(route.name, route.origin))
        body = {
            "name": key,
            "matchers": [f'service="{route.service}"'],
            "destinations": destinations,
            "escalation_policy": policies[route.policy],
        }
        out.items.append(Item("routes", key, body, route.origin, route.name))


def _weigh(out: Proposal, base: dict[str, Any], previous: dict[str, Any]) -> None:
    """Each item's status against the hand-written configuration and the earlier import."""
    for item in out.items:
        mine = _existing(base, item.section).get(item.key)
        earlier = _existing(previous, item.section).get(item.key)
        if mine is not None:
            if _same(item.section, mine, item.body):
                item.status = "present"
            else:
                item.status = "conflict"
                item.detail = (
                    f"the configuration already has a different {_noun(item.section)} "
                    f"{item.key!r}: rename or remove it there, or import with --prefix"
                )
        elif earlier is not None:
            item.status = "unchanged" if _same(item.section, earlier, item.body) else "change"
            if item.status == "change":
                item.detail = _difference(item.section, earlier, item.body)
    for section in SECTIONS:
        ours = {i.key for i in out.items if i.section == section}
        for key, body in _existing(previous, section).items():
            if key not in ours:
                out.items.append(
                    Item(
                        section,
                        key,
                        body,
                        "",
                        key,
                        status="remove",
                        detail=f"no longer in {out.vendor}",
                    )
                )


def _same(section: str, a: Any, b: Any) -> bool:
    model = _MODELS.get(section)
    if model is None:
        return bool(a == b or (isinstance(a, list | tuple) and list(a) == list(b)))
    try:
        return model.model_validate(a) == model.model_validate(b)
    except ValidationError:
        return bool(a == b)


def _difference(section: str, old: Any, new: Any) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
        return "differs in " + ", ".join(keys) if keys else "differs"
    return "members differ"


def _noun(section: str) -> str:
    return {
        "users": "user",
        "groups": "group",
        "schedules": "schedule",
        "escalation_policies": "escalation policy",
        "routes": "route",
    }[section]
