"""/maint: open a maintenance window, list the current and coming ones, end one early.

Opening or ending a window needs the grant ``maint`` on its service and environment
(``maint:orders:prod``); a window over every service (``*``) needs a grant over every service.
Each change is also written to the audit log naming the window, beside the command's own entry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from bot.audit import AuditEntry, append
from bot.authz import Person
from bot.errors import PermissionDenied, UserError
from bot.grammar import Arg, CommandSpec, ParsedCommand, shown, whole_number
from bot.i18n import t
from bot.incidents.times import clock
from bot.maintenance.mark import mark
from bot.maintenance.store import current_and_upcoming, end_window, open_window
from bot.maintenance.windows import ANY, Window
from bot.model import Reply
from bot.services import Command, Context
from bot.settings import Settings
from bot.settings.durations import format_duration, parse_duration
from bot.store.db import Database

PERMISSION = "maint"
KINDS = {
    "manual": "maint.kind.manual",
    "deploy": "maint.kind.deploy",
    "recurring": "maint.kind.recurring",
}
SHORTEST = timedelta(minutes=1)


class Uses(Protocol):
    """The services these commands use."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...


async def _maint(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    what = cmd.args.get("what") or "list"
    rest = (cmd.args.get("rest") or "").strip()
    if what == "start":
        return await _start(ctx, rest)
    if what == "end":
        return await _end(ctx, rest)
    if rest:
        raise UserError("maint.usage")
    return await _list(ctx)


async def _start(ctx: Context[Uses], rest: str) -> Reply:
    words = rest.split(maxsplit=3)
    if len(words) < 3:
        raise UserError("maint.usage")
    service, env = _target(ctx.services.settings, words[0], words[1])
    duration = _duration(ctx.services.settings, words[2])
    reason = words[3].strip() if len(words) > 3 else ""
    _check(ctx, service, env)
    window = await open_window(
        ctx.conn,
        service=service,
        environment=env,
        reason=reason,
        by=ctx.person.id,
        starts_at=ctx.now,
        ends_at=ctx.now + duration,
    )
    await _audit(ctx, "maintenance.start", window, {"reason": reason})
    until = clock(ctx.now + duration, ctx.now, ctx.tz, ctx.lang)
    return Reply(
        t(
            "maint.started",
            ctx.lang,
            id=window.id,
            service=_any(service, ctx.lang),
            environment=_any(env, ctx.lang),
            until=until,
            by=ctx.person.display,
            tiers=", ".join(str(tier) for tier in ctx.services.settings.maintenance.page_tiers)
            or "-",
        )
    )


async def _end(ctx: Context[Uses], rest: str) -> Reply:
    number = whole_number(rest.removeprefix("#"))
    if number is None or number < 1:
        raise UserError("maint.usage")

    def allowed(window: Window) -> None:
        _check(ctx, window.service, window.environment)

    window, released = await end_window(
        ctx.conn, ctx.services.db, number, ctx.person.id, ctx.now, check=allowed
    )
    await _audit(ctx, "maintenance.end", window, {"released": released})
    return Reply(
        t(
            "maint.ended",
            ctx.lang,
            id=window.id,
            service=_any(window.service, ctx.lang),
            environment=_any(window.environment, ctx.lang),
            by=ctx.person.display,
        )
    )


async def _list(ctx: Context[Uses]) -> Reply:
    windows = await current_and_upcoming(ctx.conn, ctx.now)
    if not windows:
        return Reply(t("maint.list_empty", ctx.lang))
    lines = [t("maint.list_header", ctx.lang)]
    lines += [_line(ctx, w) for w in windows]
    return Reply("\n".join(lines))


def _line(ctx: Context[Uses], window: Window) -> str:
    lang = ctx.lang
    key = "maint.line.active" if window.active(ctx.now) else "maint.line.upcoming"
    return t(
        key,
        lang,
        id=window.id,
        service=_any(window.service, lang),
        environment=_any(window.environment, lang),
        kind=t(KINDS.get(window.kind, "maint.kind.manual"), lang),
        what=mark(window, ctx.now, lang, ctx.tz),
        start=clock(window.starts_at, ctx.now, ctx.tz, lang),
    )


def _target(settings: Settings, service: str, env: str) -> tuple[str, str]:
    """The service and environment named, as configured (``*``: any); unknown ones refused."""
    if service != ANY:
        known = {name.casefold(): name for name in settings.services}
        if service.casefold() not in known:
            raise UserError(
                "deploy.unknown_service", service=shown(service), known=", ".join(known.values())
            )
        service = known[service.casefold()]
    if env != ANY:
        envs = settings.environments if service == ANY else settings.service_environments(service)
        found = {name.casefold(): name for name in envs}
        if env.casefold() not in found:
            raise UserError(
                "deploy.unknown_environment",
                service=service if service != ANY else "*",
                environment=shown(env),
                known=", ".join(envs),
            )
        env = found[env.casefold()]
    return service, env


def _duration(settings: Settings, text: str) -> timedelta:
    try:
        duration = parse_duration(text)
    except (ValueError, OverflowError):
        raise UserError("maint.bad_duration", value=shown(text)) from None
    longest = settings.maintenance.max_duration
    if duration < SHORTEST:
        raise UserError("maint.bad_duration", value=shown(text))
    if duration > longest:
        raise UserError("maint.too_long", value=shown(text), longest=format_duration(longest))
    return duration


def _check(ctx: Context[Uses], service: str, env: str) -> None:
    """The person may open or end windows there; ``*`` needs a grant over everything it says."""
    if not _may(ctx.person, service, env):
        raise PermissionDenied(
            "auth.denied",
            action=t(f"action.{PERMISSION}", ctx.lang),
            scope=t("auth.scope", ctx.lang, service=service, environment=env),
            roles=", ".join(ctx.person.roles) or t("auth.no_roles", ctx.lang),
        )


def _may(person: Person, service: str, env: str) -> bool:
    # `Person.may` reads "*" as "on anything at all"; here "*" means every service, which only
    # a grant over every service covers (`Grant.allows` matches "*" only with "*")
    return any(grant.allows(PERMISSION, service, env) for grant in person.grants)


def _any(value: str, lang: str) -> str:
    return t("maint.any", lang) if value == ANY else value


async def _audit(ctx: Context[Uses], action: str, window: Window, extra: dict[str, object]) -> None:
    detail: dict[str, object] = {
        "window": window.id,
        "kind": window.kind,
        "service": window.service,
        "environment": window.environment,
        "starts_at": window.starts_at.isoformat(),
        "ends_at": window.until.isoformat() if window.until else None,
        **extra,
    }
    entry = AuditEntry(
        ctx.person.id,
        ctx.chat.platform,
        action,
        f"maintenance:{window.id}",
        "allowed",
        detail,
    )
    await append(ctx.services.db, ctx.conn, entry, ctx.now)


COMMANDS = [
    Command(
        CommandSpec(
            "maint",
            (
                Arg(
                    "what",
                    "choice",
                    required=False,
                    default="list",
                    choices=("start", "list", "end"),
                    help_en="start a window, list them, or end one",
                    help_zh="开启维护窗口、列出窗口或提前结束窗口",
                ),
                Arg(
                    "rest",
                    "rest",
                    required=False,
                    default="",
                    help_en="start: service (or *), environment (or *), how long, then the "
                    "reason; end: the window's number",
                    help_zh="start：服务（或 *）、环境（或 *）、时长，再加原因；end：窗口编号",
                    label="[…]",
                ),
            ),
            "view",
            "Maintenance windows: alerts are recorded but page nobody while one is open.",
            "维护窗口：窗口期内告警照常记录，但不呼叫任何人。",
            aliases=("维护",),
            topic="oncall",
            examples=(
                "/maint start orders prod 2h upgrading the database",
                "/maint list",
                "/maint end 7",
            ),
        ),
        _maint,
    ),
]
