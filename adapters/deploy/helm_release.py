"""What Helm's release records say about a run: pure functions of ``helm history`` / ``helm
status`` answers.

Helm 3 keeps one record per revision: ``status`` (``deployed``, ``superseded``, ``failed``,
``pending-install`` / ``pending-upgrade`` / ``pending-rollback``…) and ``description``:
``Install complete`` / ``Upgrade complete`` (or the ``--description`` given, which Tocsin uses
to mark its own upgrades), ``Rollback to N``, or the error of a failed one. ``--atomic`` turns a
failed upgrade into a further ``Rollback to N`` revision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.ports import Phase

PENDING = "pending-"
_INDEX = re.compile(r"^(.*?)\[(\d+)\]$")


@dataclass(frozen=True, slots=True)
class Revision:
    revision: int
    status: str
    description: str = ""
    chart: str = ""
    app_version: str = ""


@dataclass(frozen=True, slots=True)
class Expect:
    """What the run is waiting for (from `RunRef.data`)."""

    command: str
    """``upgrade`` or ``rollback``."""
    release: str
    before: int
    """The newest revision before the run started (0: none)."""
    marker: str = ""
    """The ``--description`` of Tocsin's upgrade."""
    rollback_to: int = 0


def history(answer: Any) -> list[Revision]:
    """``helm history -o json`` as revisions, oldest first."""
    items = answer if isinstance(answer, list) else []
    found = [
        Revision(
            revision=int(item.get("revision", 0)),
            status=str(item.get("status", "")),
            description=str(item.get("description", "")),
            chart=str(item.get("chart", "")),
            app_version=str(item.get("app_version", "")),
        )
        for item in items
        if isinstance(item, dict)
    ]
    return sorted(found, key=lambda r: r.revision)


def current(answer: Any) -> Revision | None:
    """``helm status -o json`` as the release's newest revision."""
    if not isinstance(answer, dict) or not isinstance(answer.get("info"), dict):
        return None
    info = answer["info"]
    return Revision(
        int(answer.get("version", 0)), str(info.get("status", "")), str(info.get("description", ""))
    )


def value_at(values: Any, key: str) -> Any:
    """The value at a ``--set`` style key (``image.tag``, ``images[0].tag``); None if absent."""
    node = values
    for part in key.split("."):
        match = _INDEX.match(part)
        name, index = (match.group(1), int(match.group(2))) if match else (part, None)
        node = node.get(name) if isinstance(node, dict) else None
        if index is not None:
            node = node[index] if isinstance(node, list) and index < len(node) else None
        if node is None:
            return None
    return node


def runs_version(revision: Revision, values: Any, key: str, version: str) -> bool:
    """Whether `revision` ran `version`: by the value Tocsin sets, else by the chart's app
    version or the chart's own version (``orders-1.4.2``)."""
    tag = value_at(values, key)
    if tag is not None:
        return str(tag) == version
    return version in (revision.app_version, revision.chart.rpartition("-")[2])


def judge(
    records: list[Revision],
    latest: Revision | None,
    expect: Expect,
    *,
    exited: int | None,
    cancelled: bool,
    overdue: bool,
) -> tuple[Phase, str]:
    """The run's phase and message. `exited`: helm's exit code (None: still running, or
    unknown after a restart); `overdue`: past helm's own timeout, so helm must be gone."""
    newer = [r for r in records if r.revision > expect.before]
    if latest is not None and latest.revision > expect.before:
        newer = [r for r in newer if r.revision != latest.revision] + [latest]
    ours = _ours(newer, expect)
    head = ours or (newer[-1] if newer else None)
    recover = f"recover with: helm rollback {expect.release}"
    if cancelled:
        if head is None:
            return Phase.CANCELLED, "helm was stopped before it recorded a new revision"
        if head.status.startswith(PENDING):
            return Phase.CANCELLED, (
                f"helm was stopped and left revision {head.revision} {head.status}; {recover}"
            )
        return Phase.CANCELLED, f"helm was stopped; revision {head.revision} is {head.status}"
    if head is None:
        if exited is None and not overdue:
            return Phase.RUNNING, "waiting for helm to record a new revision"
        code = f" (exit code {exited})" if exited is not None else ""
        return Phase.FAILED, f"helm ended without recording a new revision{code}"
    where = f"revision {head.revision}"
    if head.status.startswith(PENDING):
        if exited is None and not overdue:
            return Phase.RUNNING, f"{where} is {head.status}"
        return Phase.FAILED, f"helm is gone and left {where} {head.status}; {recover}"
    if head.status == "failed":
        return Phase.FAILED, f"{where} failed: {head.description}"
    if expect.command == "upgrade" and head.description.startswith("Rollback to"):
        return Phase.FAILED, f"the upgrade failed and --atomic rolled back ({head.description})"
    if exited not in (None, 0):
        return Phase.FAILED, f"helm exited with code {exited}; {where} is {head.status}"
    if head.status in ("deployed", "superseded"):
        since = " (since superseded)" if head.status == "superseded" else ""
        return Phase.SUCCEEDED, f"{where} deployed{since}: {head.description}"
    return Phase.FAILED, f"{where} is {head.status}: {head.description}"


def _ours(newer: list[Revision], expect: Expect) -> Revision | None:
    wanted = expect.marker if expect.command == "upgrade" else f"Rollback to {expect.rollback_to}"
    matching = [r for r in newer if wanted and r.description == wanted]
    return matching[-1] if matching else None
