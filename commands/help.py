"""/help: the commands the asking person may run, grouped by topic, or one of them in full."""

from __future__ import annotations

from typing import Protocol

from bot.grammar import Arg, CommandSpec, ParsedCommand, help_lines
from bot.i18n import t
from bot.model import Reply
from bot.services import Command, Context, Registry


class Uses(Protocol):
    """The services this command uses."""

    @property
    def registry(self) -> Registry: ...


async def _help(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    specs = ctx.services.registry.specs
    name = str(cmd.args["command"] or "").lstrip("/／").casefold()
    header = [t("cmd.help_header", ctx.lang)]
    if name:
        spec = specs.get(name)
        if spec is not None and ctx.person.may(spec.permission):
            return Reply("\n".join(spec.details(ctx.lang)), private=True)
        header = [t("help.no_such", ctx.lang, command=name)]
    lines = help_lines(specs, ctx.lang, lambda spec: ctx.person.may(spec.permission))
    if not lines:
        return Reply(t("cmd.help_none", ctx.lang), private=True)
    return Reply("\n".join([*header, *lines, t("help.footer", ctx.lang)]), private=True)


COMMANDS = [
    Command(
        CommandSpec(
            "help",
            (Arg("command", "word", required=False, help_en="a command name", help_zh="命令名称"),),
            "view",
            "Show what you can do here.",
            "显示您可以使用的命令。",
            aliases=("帮助",),
            topic="you",
            examples=("/help", "/help deploy"),
        ),
        _help,
    ),
]
