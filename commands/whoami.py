"""/whoami, /lang and /tz: who Tocsin thinks you are, and the language and time zone it
answers you in (with --chat, a chat's, for everyone in it without their own)."""

from __future__ import annotations

from typing import Protocol

from bot.errors import PermissionDenied, UserError
from bot.grammar import Arg, CommandSpec, ParsedCommand
from bot.i18n import t
from bot.incidents.times import is_zone
from bot.model import Reply
from bot.prefs import chat_scope, set_language, set_timezone, user_scope
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
        t(
            "cmd.whoami",
            ctx.lang,
            name=person.display,
            id=person.id,
            roles=roles,
            lang=ctx.lang,
            tz=ctx.tz,
        ),
        private=True,
    )


async def _lang(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    """Your own language, or with --chat the chat's (for everyone without their own setting)."""
    language = cmd.args["language"]
    if "chat" in cmd.flags:
        _may_set_chat(ctx)
        await set_language(ctx.services.db, ctx.conn, chat_scope(str(ctx.chat)), language)
        return Reply(t("cmd.chat_lang_set", language))
    await set_language(ctx.services.db, ctx.conn, user_scope(ctx.person.id), language)
    return Reply(t("cmd.lang_set", language), private=True)


async def _tz(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    """Your own time zone, or with --chat the chat's (for everyone without their own)."""
    zone = str(cmd.args["zone"])
    if not is_zone(zone):
        raise UserError("cmd.tz_unknown", tz=zone)
    if "chat" in cmd.flags:
        _may_set_chat(ctx)
        await set_timezone(ctx.services.db, ctx.conn, chat_scope(str(ctx.chat)), zone)
        return Reply(t("cmd.chat_tz_set", ctx.lang, tz=zone))
    await set_timezone(ctx.services.db, ctx.conn, user_scope(ctx.person.id), zone)
    return Reply(t("cmd.tz_set", ctx.lang, tz=zone), private=True)


def _may_set_chat(ctx: Context[Uses]) -> None:
    """A chat's settings are an administrator's."""
    if not ctx.person.may("admin"):
        raise PermissionDenied(
            "auth.denied",
            action=t("action.admin", ctx.lang),
            scope=str(ctx.chat),
            roles=", ".join(ctx.person.roles) or t("auth.no_roles", ctx.lang),
        )


COMMANDS = [
    Command(
        CommandSpec(
            "whoami",
            (),
            "view",
            "Show who Tocsin thinks you are.",
            "显示 Tocsin 识别的您的身份。",
            topic="you",
            examples=("/whoami",),
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
            topic="you",
            examples=("/lang zh", "/lang en --chat"),
        ),
        _lang,
    ),
    Command(
        CommandSpec(
            "tz",
            (
                Arg(
                    "zone",
                    "word",
                    help_en="an IANA time zone, e.g. Asia/Shanghai or UTC",
                    help_zh="IANA 时区名称，例如 Asia/Shanghai 或 UTC",
                ),
            ),
            "view",
            "Choose the time zone Tocsin shows times in.",
            "设置 Tocsin 为您显示时间所用的时区。",
            aliases=("timezone", "时区"),
            flags=("chat",),
            topic="you",
            examples=("/tz Asia/Shanghai", "/tz UTC --chat"),
        ),
        _tz,
    ),
]
