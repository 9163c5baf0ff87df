"""`tocsin oncall export`: the configuration's schedules, escalation policies and groups as
YAML with every default written out (each rotation's zone, shift and windows, each step's delay
and round robin, each policy's repeat), for review in git and for diffing two versions."""

from __future__ import annotations

from typing import Any

import yaml

from bot.migrate.body import restriction_bodies
from bot.settings.durations import format_duration
from bot.settings.oncall import EscalationPolicy, Rotation, Schedule
from bot.settings.schema import Settings


def export_text(settings: Settings, source: str) -> str:
    doc: dict[str, Any] = {
        "schedules": {n: schedule_doc(s) for n, s in settings.schedules.items()},
        "escalation_policies": {n: policy_doc(p) for n, p in settings.escalation_policies.items()},
        "groups": {n: list(members) for n, members in settings.groups.items()},
    }
    head = (
        f"# The on-call configuration of {source}, every default written out.\n"
        "# Schedules' times are local wall time in their zone unless they carry an offset.\n"
    )
    return head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def schedule_doc(schedule: Schedule) -> dict[str, Any]:
    return {
        "time_zone": schedule.time_zone,
        "rotations": [_rotation(r, schedule.time_zone) for r in schedule.rotations],
        "overrides": [
            {"user": o.user, "start": o.start.isoformat(), "end": o.end.isoformat()}
            for o in schedule.overrides
        ],
        "announce": [str(d) for d in schedule.announce],
    }


def _rotation(rotation: Rotation, zone: str) -> dict[str, Any]:
    return {
        "name": rotation.name,
        "participants": list(rotation.participants),
        "shift": format_duration(rotation.shift),
        "start": rotation.start.isoformat(),
        "time_zone": rotation.time_zone or zone,
        "restrictions": restriction_bodies(rotation.restrictions, every_day=True),
    }


def policy_doc(policy: EscalationPolicy) -> dict[str, Any]:
    return {
        "steps": [
            {
                "targets": list(step.targets),
                "delay": format_duration(step.delay),
                "round_robin": step.round_robin,
            }
            for step in policy.steps
        ],
        "repeat": policy.repeat,
    }
