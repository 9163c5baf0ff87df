"""/heartbeat list: each configured heartbeat, whether it beats, and when it last did."""

from __future__ import annotations

from typing import Protocol

from bot.grammar import Arg, CommandSpec, ParsedCommand
from bot.heartbeats.alert import duration, via_words
from bot.heartbeats.deadline import Row, State
from bot.heartbeats.store import rows
from bot.i18n import t
from bot.incidents.times import stamp
from bot.model import Reply
from bot.services import Command, Context
from bot.settings import Settings
from bot.settings.watch import Heartbeat

MARKS = {State.OK: "🟢", State.MISSING: "🔴", State.WAITING: "⚪"}
WORDS = {
    State.OK: "heartbeat.state.ok",
    State.MISSING: "heartbeat.state.missing",
    State.WAITING: "heartbeat.state.waiting",
}


class Uses(Protocol):
    """The services this command uses."""

    @property
    def settings(self) -> Settings: ...


async def _heartbeat(ctx: Context[Uses], _cmd: ParsedCommand) -> Reply:
    """The one thing to do is list (the grammar refuses anything else)."""
    configured = ctx.services.settings.heartbeats
    if not configured:
        return Reply(t("heartbeat.none_configured", ctx.lang))
    found = await rows(ctx.conn)
    lines = [t("heartbeat.title", ctx.lang)]
    lines += [_line(ctx, name, beat, found.get(name)) for name, beat in configured.items()]
    return Reply("\n".join(lines))


def _line(ctx: Context[Uses], name: str, beat: Heartbeat, row: Row | None) -> str:
    """``🟢 am-prod: ok; last beat 02:14 CST · 1 min ago (Watchdog from am-prod); every …``."""
    state = row.state if row is not None else State.WAITING
    if state == State.MISSING and row is not None and row.missing_since is not None:
        since = stamp(row.missing_since, ctx.now, ctx.tz, ctx.lang)
    else:
        since = "-"
    words = t(WORDS[state], ctx.lang, since=since)
    if row is None or row.last_seen_at is None:
        seen = t("heartbeat.never", ctx.lang)
    else:
        seen = t(
            "heartbeat.line.via",
            ctx.lang,
            seen=stamp(row.last_seen_at, ctx.now, ctx.tz, ctx.lang),
            via=via_words(row.last_via, beat, ctx.lang),
        )
    return t(
        "heartbeat.line",
        ctx.lang,
        mark=MARKS[state],
        name=name,
        state=words,
        seen=seen,
        interval=duration(beat.interval, ctx.lang),
        grace=duration(beat.grace, ctx.lang),
    )


COMMANDS = [
    Command(
        CommandSpec(
            "heartbeat",
            (
                Arg(
                    "what",
                    "choice",
                    required=False,
                    default="list",
                    choices=("list",),
                    help_en="list: every heartbeat and when it last beat",
                    help_zh="list：列出所有心跳及最后一次心跳时间",
                ),
            ),
            "view",
            "Show the heartbeats Tocsin waits for: whether each beats, and when it last did.",
            "查看 Tocsin 等待的心跳：是否正常，以及最后一次心跳时间。",
            aliases=("heartbeats", "心跳"),
            topic="incidents",
            examples=("/heartbeat list",),
        ),
        _heartbeat,
    ),
]
