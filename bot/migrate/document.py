"""The file to merge: the proposal's sections as YAML, each item under a comment naming where
it came from (the old tool's id and title), so a review in git can trace every line back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml

from bot.migrate.convert import SECTIONS, Item, Proposal

_KIND = {
    "users": "user",
    "groups": "team",
    "schedules": "schedule",
    "escalation_policies": "escalation policy",
    "routes": "service",
}


def render(proposal: Proposal, *, source: str, command: str, when: datetime) -> str:
    lines = [
        f"# Imported from {proposal.vendor} ({source}) at {when.strftime('%Y-%m-%d %H:%M UTC')}",
        f"# by `{command}`.",
        "# The configuration includes this file (include: in its main file). Running the import",
        "# again shows what would change before it replaces this file; edit the hand-written",
        "# file, not this one, for anything meant to last.",
    ]
    for section in SECTIONS:
        items = proposal.written(section)
        if not items:
            continue
        lines.append(f"{section}:")
        for item in items:
            lines.append(f"  # {_origin(proposal, item)}")
            lines.extend(_entry(section, item))
    if proposal.notes:
        lines.append("")
        lines.append(f"# Carried over with a change from {proposal.vendor}:")
        lines += [f"#   {' '.join(note.split())}" for note in proposal.notes]
    if proposal.skipped:
        lines.append("")
        lines.append(f"# Not carried over from {proposal.vendor}:")
        for skip in proposal.skipped:
            lines.append(f"#   {skip.kind} {skip.name!r} ({skip.origin}): {skip.reason}")
    return "\n".join(lines) + "\n"


def _origin(proposal: Proposal, item: Item) -> str:
    return f"{proposal.vendor} {_KIND[item.section]} {item.origin}: {_one_line(item.title)}"


def _entry(section: str, item: Item) -> list[str]:
    if section in ("users", "routes"):
        text = _dump([item.body])
        return ["  " + line for line in text.splitlines()]
    text = _dump({item.key: item.body})
    return ["  " + line for line in text.splitlines()]


def _dump(value: Any) -> str:
    return yaml.safe_dump(
        value, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())[:100]
