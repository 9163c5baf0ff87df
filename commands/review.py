"""/review list [service], /review done|undo <item>, /review show <incident|run:n>: the
follow-up items of reviews from chat, as the alternative to the review card's buttons."""

from __future__ import annotations

from itertools import groupby
from typing import Protocol

from bot.authz import Directory
from bot.errors import UserError
from bot.grammar import BIGINT_MAX, Arg, CommandSpec, ParsedCommand, shown, whole_number
from bot.i18n import t
from bot.incidents.times import relative
from bot.model import Reply
from bot.outbox.enqueue import Outbox
from bot.reviews import Stored, desk, find, followups, render, review_ref
from bot.reviews.similar import span
from bot.services import Command, Context, Scope
from bot.settings import Settings


class Uses(Protocol):
    """The services these commands use."""

    @property
    def settings(self) -> Settings: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def directory(self) -> Directory: ...


def _number(text: str) -> int:
    number = whole_number(text) if text.isascii() else None
    if number is None or not 1 <= number <= BIGINT_MAX:
        raise UserError("review.usage")
    return number


async def _scope(ctx: Context[Uses], cmd: ParsedCommand) -> Scope:
    """`view` on the service listed or shown; marking is checked against the item's own
    scope by `bot.reviews.desk` (the ``ack`` grant)."""
    what, target = cmd.args["what"], cmd.args["target"]
    if what == "list":
        return (target or "*", "*")
    if what == "show":
        stored = await _find(ctx, target)
        if stored is not None and stored.facts is not None:
            return (stored.facts.service, stored.facts.environment)
    return ("*", "*")


async def _review(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    what, target = cmd.args["what"], cmd.args["target"]
    if what == "list":
        return await _list(ctx, target or None)
    if what == "show":
        return await _show(ctx, target)
    item = await desk.item_or_refuse(ctx.conn, _number(target))
    return await desk.mark(ctx, item, done=what == "done", private=False)


async def _list(ctx: Context[Uses], service: str | None) -> Reply:
    """Open items by review, oldest first, each with its id (for /review done) and age."""
    known = ctx.services.settings.services
    if service is not None and service not in known:
        raise UserError("deploy.unknown_service", service=shown(service), known=", ".join(known))
    found, total = await followups.open_items(ctx.conn, service)
    if not found:
        return Reply(t("review.list.empty", ctx.lang))
    lang = ctx.lang
    header = "review.list.header_service" if service else "review.list.header"
    lines = [t(header, lang, service=service or "")]
    for (run_id, incident_id), group in groupby(
        found, key=lambda o: (o.item.run_id, o.item.incident_id)
    ):
        items = list(group)
        first = items[0]
        incident = t("review.list.incident", lang, id=incident_id) if incident_id else ""
        lines.append(
            t(
                "review.list.review",
                lang,
                run=run_id if run_id is not None else "-",
                service=first.service or "-",
                environment=first.environment or "-",
                incident=incident,
                age=relative(first.item.created_at, ctx.now, lang),
            )
        )
        for o in items:
            age = span(ctx.now - o.item.created_at, lang)
            lines.append(t("review.list.item", lang, id=o.item.id, text=o.item.text, age=age))
    if total > len(found):
        lines.append(t("review.list.more", lang, n=total - len(found)))
    return Reply("\n".join(lines))


async def _find(ctx: Context[Uses], target: str) -> Stored | None:
    kind, _, number = target.partition(":")
    if kind == "run":
        return await find(ctx.conn, run_id=_number(number))
    return await find(ctx.conn, incident_id=_number(target))


async def _show(ctx: Context[Uses], target: str) -> Reply:
    """The review card of incident `target`'s latest rollback, or of ``run:<n>``, with its
    follow-ups and their buttons."""
    stored = await _find(ctx, target)
    if stored is None or stored.run_id is None:
        raise UserError("review.none", what=shown(target))
    names = desk.names(ctx.services.directory)
    card = await render(ctx.conn, review_ref(stored.run_id), ctx.lang, ctx.tz, names)
    if card is None:  # kept before its facts were: only its Markdown is left
        return Reply(stored.markdown)
    return Reply(card.title, card=card)


COMMANDS = [
    Command(
        CommandSpec(
            "review",
            (
                Arg(
                    "what",
                    "choice",
                    required=False,
                    default="list",
                    choices=("list", "done", "undo", "show"),
                    help_en="list: open follow-ups; done / undo: mark an item; show: a review",
                    help_zh="list：未完成的后续事项；done / undo：标记事项；show：查看复盘",
                ),
                Arg(
                    "target",
                    required=False,
                    default="",
                    help_en="list: a service; done / undo: the item's number; show: an "
                    "incident number or run:<n>",
                    help_zh="list：服务；done / undo：事项编号；show：事件编号或 run:<编号>",
                    label="[service|item|incident]",
                    label_zh="[服务|事项|事件]",
                ),
            ),
            "view",
            "Follow-ups of reviews: list the open ones, mark one done or open again, show a "
            "review.",
            "复盘的后续事项：列出未完成的事项，标记完成或重新打开，查看复盘。",
            aliases=("复盘",),
            topic="incidents",
            examples=("/review list", "/review done 12", "/review show 42"),
        ),
        _review,
        _scope,
    ),
]
