"""/ack, /unack, /silence, /unsilence, /resolve and /incident (show, list)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

from bot.alerts.facts import facts
from bot.cards import incident_card
from bot.errors import UserError
from bot.escalation.explain import explain
from bot.grammar import BIGINT_MAX, Arg, CommandSpec, ParsedCommand, whole_number
from bot.i18n import t
from bot.incidents.service import IncidentService
from bot.incidents.status import display_status
from bot.maintenance.mark import marked
from bot.model import ActionKind, Reply
from bot.reviews.similar import similar_lines
from bot.services import Actions, Command, Context, Scope
from bot.settings import Settings
from bot.silences.view import silence_view

INCIDENT = Arg("incident", "int", help_en="incident number, e.g. 42", help_zh="事件编号，例如 42")


class Uses(Protocol):
    """The services these commands use."""

    @property
    def settings(self) -> Settings: ...

    @property
    def incidents(self) -> IncidentService: ...
    @property
    def actions(self) -> Actions: ...


async def _incident_scope(ctx: Context[Uses], cmd: ParsedCommand) -> Scope:
    row = await ctx.services.incidents.load(ctx.conn, cmd.args["incident"])
    return (row.service, row.environment)


def _action(kind: ActionKind) -> Callable[[Context, ParsedCommand], Awaitable[Reply]]:
    async def handler(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
        row = await ctx.services.incidents.load(ctx.conn, cmd.args["incident"], lock=True)
        value = ""
        if isinstance(cmd.args.get("duration"), timedelta):
            value = f"{int(cmd.args['duration'].total_seconds())}s"
        outcome = await ctx.services.actions.perform(ctx, row, kind, value)
        return outcome.reply(ctx.lang)

    return handler


async def _show(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    if cmd.args["what"] == "list":
        rows = await ctx.services.incidents.list_open(ctx.conn)
        if not rows:
            return Reply(t("incident.list_empty", ctx.lang))
        lines = [t("incident.list_header", ctx.lang)]
        for row in rows:
            status = t(f"status.{display_status(row, ctx.now)}", ctx.lang)
            lines.append(f"#{row.id} [{row.tier}] {row.title} — {status}")
        return Reply("\n".join(lines))
    number = cmd.args["incident"] or whole_number(cmd.args["what"])
    if number is None or not 1 <= number <= BIGINT_MAX:
        raise UserError("incident.usage")
    if cmd.args["what"] == "why":
        row = await ctx.services.incidents.load(ctx.conn, number)
        return Reply(await explain(ctx.conn, row, ctx.lang, ctx.now, ctx.tz), private=True)
    row = await ctx.services.incidents.load(ctx.conn, number, lock=True)
    if await ctx.services.incidents.show_in(ctx.conn, row, str(ctx.chat), ctx.now):
        return Reply(t("incident.card_posted", ctx.lang, id=row.id, title=row.title))
    card = incident_card(  # a chat only answered, never posted to: a copy as of now
        row,
        ctx.now,
        ctx.lang,
        silence_choices=ctx.services.settings.incidents.silence_choices,
        tz=ctx.tz,
        facts=await facts(ctx.conn, row.id, row.summary),
        upstream=await silence_view(ctx.conn, row.id) if row.silenced_until else None,
        maintenance=await marked(ctx.conn, row.id),
        similar=await similar_lines(ctx.conn, row, ctx.now, ctx.lang, ctx.tz, _names(ctx)),
    )
    return Reply(f"#{row.id} {row.title}", card=card)


def _names(ctx: Context[Uses]) -> dict[str, str]:
    return {u.id: u.name or u.id for u in ctx.services.settings.users}


def _spec(name: str, permission: str, en: str, zh: str, *extra: Arg) -> CommandSpec:
    return CommandSpec(
        name, (INCIDENT, *extra), permission, en, zh, topic="incidents", examples=(f"/{name} 42",)
    )


COMMANDS = [
    Command(
        _spec("ack", "ack", "Acknowledge an incident: you are on it.", "认领事件：由您负责处理。"),
        _action(ActionKind.ACK),
        _incident_scope,
    ),
    Command(
        _spec("unack", "ack", "Release an incident you acknowledged.", "取消认领事件。"),
        _action(ActionKind.UNACK),
        _incident_scope,
    ),
    Command(
        _spec(
            "silence",
            "silence",
            "Mute an incident's notifications for a while.",
            "在一段时间内静默事件通知。",
            Arg(
                "duration",
                "duration",
                required=False,
                default="30m",
                help_en="how long, e.g. 30m, 2h, 1d",
                help_zh="时长，例如 30m、2h、1d",
            ),
        ),
        _action(ActionKind.SILENCE),
        _incident_scope,
    ),
    Command(
        _spec(
            "unsilence",
            "silence",
            "Lift an incident's silence now (in Alertmanager too).",
            "立即解除事件的静默（Alertmanager 中的静默一并解除）。",
        ),
        _action(ActionKind.UNSILENCE),
        _incident_scope,
    ),
    Command(
        _spec(
            "escalate",
            "ack",
            "Page the incident's next escalation step now.",
            "立即呼叫事件的下一级升级对象。",
        ),
        _action(ActionKind.ESCALATE),
        _incident_scope,
    ),
    Command(
        _spec("resolve", "resolve", "Mark an incident resolved.", "将事件标记为已恢复。"),
        _action(ActionKind.RESOLVE),
        _incident_scope,
    ),
    Command(
        CommandSpec(
            "incident",
            (
                Arg(
                    "what",
                    "word",
                    required=False,
                    default="list",
                    help_en="list, show, why, or an incident number",
                    help_zh="list、show、why 或事件编号",
                    label="[list|show|why]",
                ),
                Arg("incident", "int", required=False),
            ),
            "view",
            "List open incidents or show one.",
            "列出未恢复的事件或查看某个事件。",
            aliases=("incidents",),
            topic="incidents",
            examples=("/incident", "/incident 42", "/incident why 42"),
        ),
        _show,
    ),
]
