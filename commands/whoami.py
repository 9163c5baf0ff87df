"""/whoami and /lang: who Tocsin thinks you are, and the language it answers you in."""

from __future__ import annotations

from typing import Protocol

from bot.errors import PermissionDenied
from bot.grammar import Arg, CommandSpec, ParsedCommand
from bot.i18n import t
from bot.model import Reply
from bot.prefs import chat_scope, set_language, user_scope
from bot.services import Command, Context
from bot.store.db import Database


class Uses(Protocol):
    """The services this command uses."""

    @property
    def db(self) -> Database: ...


async def _whoami(ctx: Context[Uses], _cmd: ParsedCommand) -> Reply:
    person = ctx.person
    roles = ", ".join(person.roles) or t("auth.no_roles", ctx.lang)
    return Reply(
        t("cmd.whoami", ctx.lang, name=person.display, id=person.id, roles=roles, lang=ctx.lang),
        private=True,
    )


async def _lang(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    """Your own language, or with --chat the chat's (for everyone without their own setting)."""
    language = cmd.args["language"]
    if "chat" in cmd.flags:
        if not ctx.person.may("admin"):
            raise PermissionDenied(
                "auth.denied",
                action=t("action.admin", ctx.lang),
                scope=str(ctx.chat),
                roles=", ".join(ctx.person.roles) or t("auth.no_roles", ctx.lang),
            )
        await set_language(ctx.services.db, ctx.conn, chat_scope(str(ctx.chat)), language)
        return Reply(t("cmd.chat_lang_set", language))
    await set_language(ctx.services.db, ctx.conn, user_scope(ctx.person.id), language)
    return Reply(t("cmd.lang_set", language), private=True)


COMMANDS = [
    Command(
        CommandSpec(
            "whoami", (), "view", "Show who Tocsin thinks you are.", "显示 Tocsin 识别的您的身份。"
        ),
        _whoami,
    ),
    Command(
        CommandSpec(
            "lang",
            (
                Arg(
                    "language",
                    "choice",
                    choices=("zh", "en"),
                    help_en="zh or en",
                    help_zh="zh 或 en",
                ),
            ),
            "view",
            "Choose the language Tocsin answers you in.",
            "设置 Tocsin 回复您的语言。",
            aliases=("language", "语言"),
            flags=("chat",),
        ),
        _lang,
    ),
]
