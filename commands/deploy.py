"""/deploy, /rollback, /history, /status, /lock, /unlock, /approve, /deny and /cancel."""

from __future__ import annotations

from typing import Protocol

from bot.deploys import ledger, locks
from bot.deploys.cards import recent_line
from bot.deploys.ops import PARAM_KEY, VERSION
from bot.deploys.requests import Ask
from bot.deploys.service import RunDesk, describe
from bot.errors import UserError
from bot.grammar import Arg, CommandSpec, ParsedCommand, shown
from bot.i18n import t
from bot.model import ActionKind, Reply
from bot.services import Command, Context, Handler, Scope
from bot.settings import Settings
from bot.store.db import Database

SERVICE = Arg("service", "word", choices_from="service", help_en="a service", help_zh="服务名")
PARAM_MAX = 256
"""Longest value of a ``key=value`` deploy parameter."""
RUN = Arg("run", "int", help_en="run number, e.g. 7", help_zh="任务编号，例如 7")


class Uses(Protocol):
    """The services these commands use."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def runs(self) -> RunDesk: ...


def _split(ctx: Context[Uses], service: str, rest: str) -> tuple[str, dict[str, str]]:
    """The environment and the key=value parameters after a service."""
    env, params = "", {}
    for word in rest.split():
        key, sep, value = word.partition("=")
        if sep:
            if not PARAM_KEY.match(key) or len(value) > PARAM_MAX or not value.isprintable():
                raise UserError("deploy.bad_param", name=shown(word))
            params[key] = value
        elif not env:
            env = word
        else:
            raise UserError("deploy.bad_param", name=shown(word))
    if not env:
        known = ctx.services.settings.service_environments(service)
        if len(known) != 1:
            raise UserError(
                "deploy.unknown_environment",
                service=service,
                environment="",
                known=", ".join(known),
            )
        env = known[0]
    return env, params


async def _scope(ctx: Context[Uses], cmd: ParsedCommand) -> Scope:
    env, _ = _split(ctx, cmd.args["service"], cmd.args.get("rest") or "")
    return (cmd.args["service"], env)


async def _deploy(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    return await _ask(ctx, cmd, "deploy")


async def _rollback(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    return await _ask(ctx, cmd, "rollback")


async def _ask(ctx: Context[Uses], cmd: ParsedCommand, action: str) -> Reply:
    """Record the deploy (its version an argument) or rollback (``to=<version>``, or the last
    verified one) that the command asks for; its card asks the requester to confirm."""
    service = cmd.args["service"]
    env, params = _split(ctx, service, cmd.args.get("rest") or "")
    version = cmd.args["version"] if action == "deploy" else params.pop("to", "")
    dry_run = "dry-run" in cmd.flags
    ask = Ask(action, service, env, version, params, dry_run, ctx.person.id, [str(ctx.chat)])
    row = await ctx.services.runs.ask(ctx.conn, ask, ctx.now)
    return Reply(describe(row, ctx.lang))


async def _history(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    service, env = cmd.args["service"], (cmd.args.get("environment") or "")
    rows = await ledger.history(
        ctx.conn, service, env or None, ctx.services.settings.deploy.retention * 2
    )
    if not rows:
        return Reply(t("deploy.history.empty", ctx.lang, service=service))
    where = f" ({env})" if env else ""
    lines = [t("deploy.history.header", ctx.lang, service=service, where=where)]
    lines += [f"{recent_line(r, ctx.lang)} · {r.environment} · {r.requested_by}" for r in rows]
    return Reply("\n".join(lines))


async def _status(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    service = cmd.args["service"]
    lines = []
    retention = ctx.services.settings.deploy.retention
    for env in ctx.services.settings.service_environments(service):
        current, _ = await ledger.rollback_target(ctx.conn, service, env, retention)
        verified = await ledger.verified_versions(ctx.conn, service, env, 1)
        lines.append(
            t(
                "deploy.status.line",
                ctx.lang,
                service=service,
                environment=env,
                version=current or "?",
                verified=verified[0] if verified else "-",
            )
        )
        for row in await ledger.history(ctx.conn, service, env, 3):
            if row.state not in ("succeeded", "failed", "cancelled", "denied", "expired"):
                lines.append(f"  {recent_line(row, ctx.lang)}")
    return Reply("\n".join(lines))


def _lock_scope(ctx: Context[Uses], word: str) -> str:
    settings = ctx.services.settings
    if word == "all":
        return locks.ALL
    if word in settings.environments:
        return f"env:{word}"
    service, _, env = word.partition(":")
    if service in settings.services and (not env or env in settings.environments):
        return word
    raise UserError("deploy.lock.bad_scope")


async def _lock(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    words = (cmd.args.get("rest") or "").split(maxsplit=1)
    if not words:
        held = await locks.sticky(ctx.conn)
        lines = [t("deploy.lock.list", ctx.lang)] + [
            f"🔒 {row.scope} · {row.holder} · {row.reason}" for row in held
        ]
        return Reply("\n".join(lines) if held else t("deploy.lock.none", ctx.lang, scope="-"))
    scope = _lock_scope(ctx, words[0])
    scopes = (
        [scope]
        if ":" in scope or scope in (locks.ALL,) or scope.startswith("env:")
        else [f"{scope}:{env}" for env in ctx.services.settings.service_environments(scope)]
    )
    reason = words[1] if len(words) > 1 else "-"
    for one in scopes:
        row = await locks.take(
            ctx.services.db, ctx.conn, one, ctx.person.id, ctx.now, sticky=True, reason=reason
        )
        if row.holder != ctx.person.id:
            return Reply(
                t("deploy.lock.held", ctx.lang, scope=one, user=row.holder, reason=row.reason)
            )
    return Reply(
        t(
            "deploy.lock.taken",
            ctx.lang,
            scope=", ".join(scopes),
            user=ctx.person.display,
            reason=reason,
        )
    )


async def _unlock(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    words = (cmd.args.get("rest") or "").split()
    if not words:
        raise UserError("deploy.lock.bad_scope")
    scope = _lock_scope(ctx, words[0])
    scopes = (
        [scope]
        if ":" in scope or scope in (locks.ALL,) or scope.startswith("env:")
        else [f"{scope}:{env}" for env in ctx.services.settings.service_environments(scope)]
    )
    released = 0
    for one in scopes:
        for row in await locks.sticky(ctx.conn):
            if row.scope == one and row.holder != ctx.person.id and not ctx.person.may("admin"):
                raise UserError("deploy.lock.not_holder", scope=one, user=row.holder)
        released += await locks.release(ctx.conn, one)
    key = "deploy.lock.released" if released else "deploy.lock.none"
    return Reply(t(key, ctx.lang, scope=", ".join(scopes)))


def _press(action: ActionKind) -> Handler:
    async def handler(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
        return await ctx.services.runs.press(ctx, cmd.args["run"], action)

    return handler


async def _run_scope(ctx: Context[Uses], cmd: ParsedCommand) -> Scope:
    row = await ctx.services.runs.load(ctx.conn, cmd.args["run"])
    return (row.service, row.environment)


async def _drill(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    drills = ctx.services.runs.drills
    if cmd.args["what"] != "rollback" or drills is None:
        raise UserError("drill.usage")
    env = cmd.args.get("environment") or None
    row = await drills.start(
        ctx.conn, cmd.args["service"], env, ctx.person.id, [str(ctx.chat)], ctx.now
    )
    return Reply(
        t(
            "drill.started",
            ctx.lang,
            id=row.id,
            service=row.service,
            environment=row.environment,
            version=row.version,
        )
    )


async def _drill_scope(ctx: Context[Uses], cmd: ParsedCommand) -> Scope:
    drill = ctx.services.settings.deploy.drills.get(cmd.args["service"])
    env = cmd.args.get("environment") or (drill.environment if drill else "*")
    return (cmd.args["service"], env)


REST = Arg("rest", "rest", required=False, default="")

COMMANDS = [
    Command(
        CommandSpec(
            "deploy",
            (
                SERVICE,
                Arg(
                    "version",
                    "word",
                    help_en="e.g. v1.4.2",
                    help_zh="例如 v1.4.2",
                    pattern=VERSION.pattern,
                    pattern_key="grammar.bad_version",
                ),
                Arg(
                    "rest",
                    "rest",
                    required=False,
                    default="",
                    help_en="[env] [key=value…]",
                    help_zh="[环境] [key=value…]",
                ),
            ),
            "deploy",
            "Deploy a version of a service (confirm on the card); where its gate has a canary, "
            "the canary comes first (canary_weight=N picks the weight, 0 skips it).",
            "发布服务的某个版本（在卡片上确认）；若健康检查配置了金丝雀则先发金丝雀"
            "（canary_weight=N 指定权重，0 跳过）。",
            aliases=("发布",),
            flags=("dry-run",),
        ),
        _deploy,
        _scope,
    ),
    Command(
        CommandSpec(
            "rollback",
            (
                SERVICE,
                Arg(
                    "rest",
                    "rest",
                    required=False,
                    default="",
                    help_en="[env] [to=<version>]",
                    help_zh="[环境] [to=<版本>]",
                ),
            ),
            "rollback",
            "Roll back to the last verified version (or to=<version>).",
            "回滚到最近一次验证通过的版本（或 to=<版本>）。",
            aliases=("回滚",),
            flags=("dry-run",),
        ),
        _rollback,
        _scope,
    ),
    Command(
        CommandSpec(
            "history",
            (SERVICE, Arg("environment", "word", required=False, choices_from="environment")),
            "view",
            "A service's deploys and rollbacks.",
            "查看服务的发布与回滚记录。",
        ),
        _history,
    ),
    Command(
        CommandSpec(
            "status",
            (SERVICE,),
            "view",
            "What runs where, and what is in flight.",
            "查看服务当前版本与进行中的任务。",
        ),
        _status,
    ),
    Command(
        CommandSpec(
            "lock",
            (REST,),
            "lock",
            "Lock a service, an environment or all deploys.",
            "锁定服务、环境或全部发布。",
            aliases=("freeze",),
        ),
        _lock,
    ),
    Command(
        CommandSpec("unlock", (REST,), "lock", "Release a lock.", "解除锁定。"),
        _unlock,
    ),
    Command(
        CommandSpec(
            "drill",
            (
                Arg("what", "choice", choices=("rollback",)),
                SERVICE,
                Arg("environment", "word", required=False, choices_from="environment"),
            ),
            "deploy",
            "Rehearse a rollback: a known-bad release the gate must catch.",
            "回滚演练：发布已知有问题的版本，检验健康检查与回滚。",
            aliases=("演练",),
        ),
        _drill,
        _drill_scope,
    ),
    Command(
        CommandSpec("approve", (RUN,), "approve", "Approve a run.", "批准任务。"),
        _press(ActionKind.APPROVE),
        _run_scope,
    ),
    Command(
        CommandSpec("deny", (RUN,), "approve", "Deny a run.", "拒绝任务。"),
        _press(ActionKind.DENY),
        _run_scope,
    ),
    Command(
        CommandSpec(
            "cancel",
            (RUN,),
            "view",
            "Cancel a run (yours, or where you may deploy).",
            "取消任务（本人或有发布权限者）。",
        ),
        _press(ActionKind.CANCEL),
        _run_scope,
    ),
]
