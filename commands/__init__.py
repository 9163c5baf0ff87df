"""Chat commands, one module per family. Each declares its grammar, permission and help text,
and calls core services only. `all_commands()` is what `bootstrap` registers."""

from __future__ import annotations

from bot.services import Command


def all_commands() -> list[Command]:
    from commands import deploy, heartbeat, help, incident, maint, oncall, review, whoami

    return [
        *incident.COMMANDS,
        *deploy.COMMANDS,
        *oncall.COMMANDS,
        *maint.COMMANDS,
        *heartbeat.COMMANDS,
        *review.COMMANDS,
        *help.COMMANDS,
        *whoami.COMMANDS,
    ]
