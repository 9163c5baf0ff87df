"""/oncall: who is on call now and next, overrides, swaps, taking a shift, the fairness report
and the calendar feed."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.authz import Directory, Person
from bot.deploys.moments import stamp
from bot.errors import PermissionDenied, UserError
from bot.grammar import Arg, CommandSpec, ParsedCommand, shown
from bot.i18n import t
from bot.model import Reply
from bot.oncall.model import from_wall, to_wall
from bot.oncall.service import OnCallService
from bot.reports.fairness import gather
from bot.reports.fairness_format import chat_text
from bot.services import Command, Context
from bot.settings import Settings
from bot.settings.durations import parse_duration
from bot.web.schedules import feed_url

MIN_OVERRIDE, MAX_OVERRIDE = timedelta(minutes=15), timedelta(days=30)
_MENTION = re.compile(r"<@([A-Za-z0-9_.-]+)(?:\|[^>]*)?>")
_TIME = re.compile(r"([01]?\d|2[0-3])[:：]([0-5]\d)")
_WEEKDAYS = {
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    **{f"周{c}": i for i, c in enumerate("一二三四五六日")},
    **{f"星期{c}": i for i, c in enumerate("一二三四五六日")},
    "周天": 6,
    "星期天": 6,
}
REPORT_SINCE, REPORT_MAX = timedelta(days=30), timedelta(days=366)


class Uses(Protocol):
    """The services these commands use."""

    @property
    def settings(self) -> Settings: ...
    @property
    def oncall(self) -> OnCallService: ...
    @property
    def directory(self) -> Directory: ...


async def _oncall(ctx: Context[Uses], cmd: ParsedCommand) -> Reply:
    what = (cmd.args.get("what") or "").strip()
    words = (cmd.args.get("rest") or "").split()
    if what in ("override", "替班"):
        return await _override(ctx, words)
    if what in ("swap", "换班"):
        return await _swap(ctx, words)
    if what in ("take", "接班"):
        return await _take(ctx, words)
    if what in ("report", "报告"):
        return await _report(ctx, words)
    if what in ("ical", "calendar", "日历"):
        return _ical(ctx, words)
    if what in ("help", "帮助"):
        return Reply(t("oncall.usage", ctx.lang), private=True)
    return await _show(ctx, [what] if what else list(ctx.services.settings.schedules))


async def _show(ctx: Context[Uses], names: list[str]) -> Reply:
    service = ctx.services.oncall
    if not names:
        return Reply(t("oncall.none_configured", ctx.lang))
    lines = []
    for name in names:
        current, upcoming = await service.who(ctx.conn, name, ctx.now)
        if current is None or current.user is None:
            lines.append(t("oncall.now_nobody", ctx.lang, schedule=name))
        else:
            lines.append(
                t(
                    "oncall.now",
                    ctx.lang,
                    schedule=name,
                    user=_name(ctx, current.user),
                    until=stamp(current.end, ctx.lang, ctx.tz),
                )
            )
        if upcoming is not None and upcoming.user is not None:
            lines.append(
                t(
                    "oncall.next",
                    ctx.lang,
                    user=_name(ctx, upcoming.user),
                    start=stamp(upcoming.start, ctx.lang, ctx.tz),
                )
            )
    return Reply("\n".join(lines))


async def _override(ctx: Context[Uses], words: list[str]) -> Reply:
    if len(words) < 2:
        raise UserError("oncall.usage")
    who = _person(ctx, words[0])
    try:
        duration = parse_duration(words[1])
    except (ValueError, OverflowError):
        raise UserError("oncall.bad_duration") from None
    if not MIN_OVERRIDE <= duration <= MAX_OVERRIDE:
        raise UserError("oncall.bad_duration")
    name = _schedule(ctx, words[2:], who.id)
    if not (ctx.person.may("oncall") or who.id == ctx.person.id):
        raise PermissionDenied(
            "auth.denied",
            action=t("action.oncall", ctx.lang),
            scope=name,
            roles=", ".join(ctx.person.roles) or t("auth.no_roles", ctx.lang),
        )
    service = ctx.services.oncall
    until = ctx.now + duration
    found = await service.override(
        ctx.conn,
        name,
        who.id,
        ctx.now,
        until,
        by=ctx.person.id,
        reason="/oncall override",
        now=ctx.now,
    )
    return Reply(
        t(
            "oncall.overridden",
            ctx.lang,
            user=who.display,
            schedule=name,
            until=stamp(until, ctx.lang, ctx.tz),
            id=found,
            by=ctx.person.display,
        )
    )


async def _swap(ctx: Context[Uses], words: list[str]) -> Reply:
    if not words:
        raise UserError("oncall.usage")
    other = _person(ctx, words[0])
    name = _schedule(ctx, words[1:], ctx.person.id)
    swap_id = await ctx.services.oncall.request_swap(
        ctx.conn, name, ctx.person.id, other.id, ctx.now, str(ctx.chat)
    )
    return Reply(t("oncall.swap_requested", ctx.lang, id=swap_id, other=other.display))


async def _take(ctx: Context[Uses], words: list[str]) -> Reply:
    """``/oncall take @bob <when> [schedule]``: ask Bob to let me work his shift."""
    if len(words) < 2:
        raise UserError("oncall.usage")
    owner = _person(ctx, words[0])
    at = when(words[1], ctx.now, ZoneInfo(ctx.tz))
    name = _schedule(ctx, words[2:], owner.id)
    service = ctx.services.oncall
    take_id, shift = await service.request_take(
        ctx.conn, name, ctx.person.id, owner.id, at, ctx.now, str(ctx.chat)
    )
    return Reply(
        t(
            "oncall.take_requested",
            ctx.lang,
            id=take_id,
            other=owner.display,
            start=stamp(shift.start, ctx.lang, ctx.tz),
            end=stamp(shift.end, ctx.lang, ctx.tz),
        )
    )


def when(text: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The moment `text` names, read in the reader's `zone`: None for ``next``; a date or a
    weekday at its midnight (a weekday is its next one, today included); a time at its next
    occurrence (today if still ahead)."""
    word = text.strip().lower()
    if word in ("next", "下次", "下一班"):
        return None
    today = to_wall(now, zone).date()
    if word in _WEEKDAYS:
        ahead = (_WEEKDAYS[word] - today.weekday()) % 7
        return from_wall(datetime.combine(today + timedelta(days=ahead), time()), zone)
    clock = _TIME.fullmatch(word)
    if clock:
        wall = time(int(clock.group(1)), int(clock.group(2)))
        moment = from_wall(datetime.combine(today, wall), zone)
        if moment < now:
            moment = from_wall(datetime.combine(today + timedelta(days=1), wall), zone)
        return moment
    try:
        day = date.fromisoformat(word)
    except ValueError:
        raise UserError("oncall.bad_when") from None
    return from_wall(datetime.combine(day, time()), zone)


async def _report(ctx: Context[Uses], words: list[str]) -> Reply:
    """``/oncall report [schedule] [30d]``: the fairness report over the period, in short."""
    since, names = REPORT_SINCE, []
    for word in words:
        try:
            since = parse_duration(word)
        except ValueError:
            ctx.services.oncall.schedule(word)
            names.append(word)
    if not timedelta(hours=1) <= since <= REPORT_MAX:
        raise UserError("oncall.bad_period")
    report = await gather(
        ctx.services.settings, ctx.conn, since=ctx.now - since, until=ctx.now, schedules=names
    )
    return Reply(chat_text(report, ctx.lang, ctx.tz))


def _ical(ctx: Context[Uses], words: list[str]) -> Reply:
    name = _schedule(ctx, words, ctx.person.id)
    settings = ctx.services.settings
    url = feed_url(settings.tocsin.public_url, settings.tocsin.secret_key, name)
    return Reply(t("oncall.ical", ctx.lang, schedule=name, url=url), private=True)


def _schedule(ctx: Context[Uses], words: list[str], user_id: str) -> str:
    """The schedule named in `words`, else the only one, else the only one `user_id` is in."""
    service = ctx.services.oncall
    known = list(ctx.services.settings.schedules)
    if words:
        service.schedule(words[0])
        return words[0]
    if len(known) == 1:
        return known[0]
    mine = service.schedules_of(user_id)
    if len(mine) == 1:
        return mine[0]
    raise UserError("oncall.which_schedule", known=", ".join(known) or "-")


def _person(ctx: Context[Uses], text: str) -> Person:
    """A person named as ``@alice``, ``alice`` or a platform mention such as ``<@U024BE7LH>``."""
    directory = ctx.services.directory
    mention = _MENTION.fullmatch(text)
    if mention:
        found = directory.by_identity(ctx.chat.platform, mention.group(1))
    else:
        word = text.lstrip("@＠")
        found = directory.get(word.lower()) or next(
            (p for p in directory.people() if p.name and p.name.lower() == word.lower()), None
        )
    if found is None:
        raise UserError("oncall.unknown_user", who=shown(text))
    return found


def _name(ctx: Context[Uses], user_id: str) -> str:
    person = ctx.services.directory.get(user_id)
    return person.display if person else user_id


COMMANDS = [
    Command(
        CommandSpec(
            "oncall",
            (
                Arg(
                    "what",
                    "word",
                    required=False,
                    default="",
                    help_en="a schedule, or override / swap / take / report / ical",
                    help_zh="排班名，或 override / swap / take / report / ical",
                    label="[schedule|override|swap|take|report|ical]",
                    label_zh="[排班|override|swap|take|report|ical]",
                ),
                Arg(
                    "rest",
                    "rest",
                    required=False,
                    default="",
                    help_en="override: @user and how long; swap: @user; take: @user and "
                    "when (next, 2027-03-10, wed, 18:00); report: how far back (30d); then the "
                    "schedule if there are several",
                    help_zh="override：@用户 和时长；swap：@用户；take：@用户 和时间"
                    "（下次、2027-03-10、周三、18:00）；report：统计多久（30d）；"
                    "有多个排班时再加排班名",
                    label="[…]",
                ),
            ),
            "view",
            "Who is on call now and next; overrides, swaps, taking a shift, the fairness "
            "report and the calendar feed.",
            "查看当前与下一位值班人；临时替班、换班、接班、值班公平性报告和日历订阅。",
            aliases=("值班",),
            topic="oncall",
            examples=("/oncall swap @alice", "/oncall take @alice next", "/oncall report 30d"),
        ),
        _oncall,
    ),
]
