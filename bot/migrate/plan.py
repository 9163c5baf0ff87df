"""The plan: what an import adds, changes and removes, what it matched, what is in conflict and
what it cannot carry over, with the reasons. The same text is printed before `--apply` writes."""

from __future__ import annotations

from typing import Any

from bot.migrate.convert import SECTIONS, Item, Proposal

MARKS = {
    "add": "+",
    "change": "~",
    "unchanged": "=",
    "present": "=",
    "conflict": "!",
    "remove": "-",
}
WORDS = {
    "add": "to add",
    "change": "to change",
    "remove": "to remove",
    "unchanged": "unchanged",
    "present": "already in the configuration",
    "conflict": "in conflict",
}


def plan_text(proposal: Proposal, source: str, target: str) -> str:
    lines = [f"Import from {proposal.vendor} ({source}) into {target}:"]
    for section in SECTIONS:
        items = [i for i in proposal.items if i.section == section]
        matched = proposal.matched if section == "users" else {}
        if not items and not matched:
            continue
        lines.append(f"  {section}")
        if matched:
            for origin, uid in matched.items():
                email = proposal.emails.get(origin, "")
                lines.append(f"    = {uid:<24} matched by e-mail {email}")
        lines += [f"    {MARKS[i.status]} {i.key:<24} {_describe(i)}" for i in items]
    if proposal.notes:
        lines.append(f"Carried over with a change ({len(proposal.notes)}):")
        lines += [f"  - {note}" for note in proposal.notes]
    if proposal.skipped:
        lines.append(f"Not carried over ({len(proposal.skipped)}):")
        lines += [f"  - {s.kind} {s.name!r} ({s.origin}): {s.reason}" for s in proposal.skipped]
    lines.append("Summary: " + summary(proposal) + ".")
    return "\n".join(lines)


def summary(proposal: Proposal) -> str:
    counts: dict[str, int] = {}
    for item in proposal.items:
        counts[item.status] = counts.get(item.status, 0) + 1
    parts = [f"{counts[s]} {WORDS[s]}" for s in WORDS if counts.get(s)]
    if proposal.matched:
        parts.append(f"{len(proposal.matched)} people matched")
    parts.append(f"{len(proposal.skipped)} not carried over")
    return ", ".join(parts)


def _describe(item: Item) -> str:
    what = _what(item.section, item.body)
    origin = f"{item.origin}: {item.title}" if item.origin else item.title
    text = f"{what} ({origin})" if what else f"({origin})"
    return f"{text} — {item.detail}" if item.detail else text


def _what(section: str, body: Any) -> str:
    if section == "users":
        email = (body.get("contact") or {}).get("email", "")
        return f"new user {body.get('name', '')}" + (f" <{email}>" if email else "")
    if section == "groups":
        return ", ".join(body)
    if section == "schedules":
        layers = body.get("rotations", [])
        overrides = body.get("overrides", [])
        text = f"{len(layers)} rotation{'s' if len(layers) != 1 else ''} in {body['time_zone']}"
        return text + (f", {len(overrides)} override(s) to come" if overrides else "")
    if section == "escalation_policies":
        steps = body.get("steps", [])
        repeat = body.get("repeat", 0)
        text = f"{len(steps)} step{'s' if len(steps) != 1 else ''}"
        return text + (f", repeated {repeat} times" if repeat else "")
    if section == "routes":
        return f"{', '.join(body['matchers'])} → {body['escalation_policy']}"
    return ""
