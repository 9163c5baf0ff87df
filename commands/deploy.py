"""/deploy, /rollback, /history, /status, /lock, /unlock, /approve, /deny and /cancel."""

from __future__ import annotations

from typing import Protocol

from bot.deploys import ledger, locks
from bot.deploys.cards import recent_line
from bot.deploys.ops import ENDED, PARAM_KEY, VERSION
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
    keys = await ledger.outcomes(ctx.conn, rows)
    tz = ctx.tz
    lines = [t("deploy.history.header", ctx.lang, service=service, where=where)]
    lines += [
        f"{recent_line(r, ctx.lang, tz=tz, status=keys[r.id])} · {r.environment}" for r in rows
    ]
    return Reply("\n".join(lines))


async def _status(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    service = cmd.args["service"]
    lines = []
    tz = ctx.tz
    for env in ctx.services.settings.service_environments(service):
        verified = await ledger.verified_versions(ctx.conn, service, env, 1)
        found = await ledger.standing(ctx.conn, service, env)
        lines.append(
            _standing_line(service, env, found, verified[0] if verified else "-", ctx.lang)
        )
        for row in await ledger.history(ctx.conn, service, env, 3):
            if row.state not in ENDED:
                lines.append(f"  {recent_line(row, ctx.lang, tz=tz)}")
    return Reply("\n".join(lines))


def _standing_line(service: str, env: str, found: ledger.Standing, verified: str, lang: str) -> str:
    """One environment's line of /status: its version, a mix, or unknown (and why)."""
    about = {"service": service, "environment": env, "verified": verified}
    if found.run is None:
        return t("deploy.status.line", lang, version=found.version or "?", **about)
    why = t(f"deploy.status.why.{found.run.state}", lang, run=found.run.id)
    if found.share is None:
        return t("deploy.status.unknown", lang, why=why, **about)
    return t(
        "deploy.status.mixed",
        lang,
        new=found.run.version,
        new_share=found.share,
        old=found.run.previous or "?",
        old_share=100 - found.share,
        why=why,
        **about,
    )


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


LOCK_WHAT = Arg(
    "rest",
    "rest",
    required=False,
    default="",
    help_en="a service, service:environment, an environment or all, then why; none lists the locks",
    help_zh="服务、服务:环境、环境或 all，然后是原因；省略则列出现有锁",
    label="[service|environment|all] [reason…]",
    label_zh="[服务|环境|all] [原因…]",
)
UNLOCK_WHAT = Arg(
    "rest",
    "rest",
    required=False,
    default="",
    help_en="a service, service:environment, an environment or all",
    help_zh="服务、服务:环境、环境或 all",
    label="<service|environment|all>",
    label_zh="<服务|环境|all>",
)

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
                    help_en="the environment, then deploy parameters as key=value",
                    help_zh="环境，以及 key=value 形式的发布参数",
                    label="[environment] [key=value…]",
                    label_zh="[环境] [key=value…]",
                ),
            ),
            "deploy",
            "Deploy a version of a service (confirm on the card); where its gate has a canary, "
            "the canary comes first (canary_weight=N picks the weight, 0 skips it).",
            "发布服务的某个版本（在卡片上确认）；若健康检查配置了金丝雀则先发金丝雀"
            "（canary_weight=N 指定权重，0 跳过）。",
            aliases=("发布",),
            flags=("dry-run",),
            topic="deploys",
            examples=(
                "/deploy orders v1.4.2 prod",
                "/deploy orders v1.4.2 prod --dry-run",
                "/deploy storefront v3.2.1 staging canary_weight=20",
            ),
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
                    help_en="the environment, and to=<version> for a version other than the last "
                    "verified one",
                    help_zh="环境；如需回滚到其他版本，加 to=<版本>",
                    label="[environment] [to=version]",
                    label_zh="[环境] [to=版本]",
                ),
            ),
            "rollback",
            "Roll back to the last verified version (or to=<version>).",
            "回滚到最近一次验证通过的版本（或 to=<版本>）。",
            aliases=("回滚",),
            flags=("dry-run",),
            topic="deploys",
            examples=("/rollback orders prod", "/rollback orders staging to=v1.4.1"),
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
            topic="deploys",
            examples=("/history orders", "/history orders prod"),
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
            topic="deploys",
            examples=("/status orders",),
        ),
        _status,
    ),
    Command(
        CommandSpec(
            "lock",
            (LOCK_WHAT,),
            "lock",
            "Lock a service, an environment or all deploys.",
            "锁定服务、环境或全部发布。",
            aliases=("freeze",),
            topic="deploys",
            examples=("/lock", "/lock orders:prod release freeze", "/lock all"),
        ),
        _lock,
    ),
    Command(
        CommandSpec(
            "unlock",
            (UNLOCK_WHAT,),
            "lock",
            "Release a lock.",
            "解除锁定。",
            topic="deploys",
            examples=("/unlock orders:prod", "/unlock all"),
        ),
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
            topic="deploys",
            examples=("/drill rollback orders", "/drill rollback orders staging"),
        ),
        _drill,
        _drill_scope,
    ),
    Command(
        CommandSpec(
            "approve",
            (RUN,),
            "approve",
            "Approve a run.",
            "批准任务。",
            topic="deploys",
            examples=("/approve 7",),
        ),
        _press(ActionKind.APPROVE),
        _run_scope,
    ),
    Command(
        CommandSpec(
            "deny",
            (RUN,),
            "approve",
            "Deny a run.",
            "拒绝任务。",
            topic="deploys",
            examples=("/deny 7",),
        ),
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
            topic="deploys",
            examples=("/cancel 7",),
        ),
        _press(ActionKind.CANCEL),
        _run_scope,
    ),
]
