"""The dispatcher: every command and card action, from every platform, passes through here.

Order, the same for both kinds of request, all inside one transaction:

1. de-duplicate on the platform's event id (a re-delivery changes nothing and says nothing);
2. identify the person (platform user id → Tocsin user; strangers are refused);
3. choose the language and time zone (the person's setting, the chat's, then the default);
4. parse (commands) or resolve the card (actions);
5. authorize against the person's grants, scoped by service and environment;
6. run the handler; 7. write the audit row (allowed, denied, invalid or failed);
8. turn errors into a reply in the person's language.

A failure rolls the transaction back (effects and de-duplication row alike), so the platform's
retry is processed again; the audit row of a failed attempt is written in its own transaction.

Adapters store each request in the inbox (`accept`) before they acknowledge it; step 1 marks its
row done in the same transaction, and rows left pending by a process that stopped are taken over
by any replica (`resume`, see `bot.inbox`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.audit import AuditEntry, append
from bot.authz import Person
from bot.errors import CommandError, PermissionDenied
from bot.escalation.pages import was_paged
from bot.grammar import (
    BIGINT_MAX,
    GrammarError,
    asks_for_help,
    parse,
    split_command,
    whole_number,
)
from bot.i18n import t, word
from bot.inbox import Inbox, Request, Resume, Resumer
from bot.inbox.codec import Json
from bot.incidents.status import Status, parse_card_ref
from bot.model import ActionKind, CardActionRequest, CommandRequest, Reply, Sender
from bot.prefs import Reader, reader
from bot.reviews import desk as review_desk
from bot.reviews import followups
from bot.services import Context, Services
from bot.store.tables import digests, inbound_events

log = structlog.get_logger(__name__)

PERMISSION = {
    ActionKind.ACK: "ack",
    ActionKind.UNACK: "ack",
    ActionKind.SILENCE: "silence",
    ActionKind.UNSILENCE: "silence",
    ActionKind.RESOLVE: "resolve",
    ActionKind.ROLLBACK: "rollback",
    ActionKind.ESCALATE: "ack",
}
PAGED_MAY = frozenset({ActionKind.ACK, ActionKind.ESCALATE})
"""What a person paged for an incident may do to it without the grant."""


CardHandler = Callable[[Context, int, CardActionRequest], Awaitable[Reply]]
"""Handles a button pressed on one kind of card, given the card's number."""


class _Denied(Exception):
    def __init__(self, reply: Reply, outcome: str) -> None:
        self.reply, self.outcome = reply, outcome


class Dispatcher:
    def __init__(self, services: Services, bot_names: tuple[str, ...] = ("tocsin",)) -> None:
        self.s = services
        self.bot_names = bot_names
        self.inbox = Inbox(services.db, services.clock)
        self.resumer = Resumer(self.inbox, self)
        self.cards: dict[str, CardHandler] = {
            "incident": self._incident_action,
            "digest": self._digest_action,
            "swap": self._swap_action,
            "run": self._run_action,
            "review": self._review_action,
        }
        """Who handles a button, by the kind of card it is on (see `parse_card_ref`)."""

    # -- the inbox ------------------------------------------------------------------------------

    async def accept(self, request: Request, route: Json) -> bool:
        """Store `request` before the platform is told OK (False: stored before, a re-delivery)."""
        return await self.inbox.accept(request, route)

    def on_resume(self, platform: str, resume: Resume) -> None:
        """How `platform`'s adapter takes over a request another process did not finish."""
        self.resumer.on_resume(platform, resume)

    async def resume(self, _now: Any = None) -> None:
        """The engine's pass: take over requests whose process stopped before finishing them."""
        await self.resumer.run()

    async def handle(self, request: Request) -> Reply:
        if isinstance(request, CommandRequest):
            return await self.command(request)
        return await self.action(request)

    async def abandoned(self, request: Request, attempts: int) -> None:
        """Say in the audit log that a request was given up after `attempts` attempts."""
        kind = "command" if isinstance(request, CommandRequest) else "action"
        async with self.s.db.begin() as conn:
            person = self.s.directory.by_identity(
                request.sender.platform, request.sender.platform_user_id
            )
            detail = {"error": f"given up after {attempts} attempts", "event": request.event_id}
            await self._audit(
                conn, request.sender, person, kind, _target(request), "failed", detail
            )

    # -- entry points ---------------------------------------------------------------------------

    async def command(self, request: CommandRequest) -> Reply:
        return await self._run(
            "command",
            request.sender,
            request.chat,
            request.event_id,
            request.text,
            lambda conn, person, who: self._command(conn, person, who, request),
        )

    async def action(self, request: CardActionRequest) -> Reply:
        return await self._run(
            "action",
            request.sender,
            request.chat,
            request.event_id,
            _target(request),
            lambda conn, person, who: self._action(conn, person, who, request),
            {"via": request.via} if request.via else {},
        )

    # -- the chain ----------------------------------------------------------------------------

    async def _run(
        self,
        kind: str,
        sender: Sender,
        chat: Any,
        event_id: str,
        target: str,
        body: Callable[[AsyncConnection, Person, Reader], Awaitable[tuple[Reply, str, str]]],
        detail: dict[str, Any] | None = None,
    ) -> Reply:
        """`detail`: what the audit rows of the request say besides (an action's `via`)."""
        started = time.perf_counter()
        now = self.s.clock.now()
        outcome = "allowed"
        try:
            async with self.s.db.begin() as conn:
                first = await self._first_delivery(conn, sender.platform, event_id, now)
                await self.inbox.finish(conn, sender.platform, event_id)
                if not first:
                    self.s.metrics.inbound_duplicates.labels(sender.platform).inc()
                    outcome = "duplicate"
                    return Reply("", private=True, extra={"duplicate": True})
                person = self.s.directory.by_identity(sender.platform, sender.platform_user_id)
                who = await self._reader(conn, person, str(chat))
                lang = who.lang
                if person is None:
                    outcome = "denied"
                    await self._audit(
                        conn,
                        sender,
                        None,
                        kind,
                        target,
                        "denied",
                        {"reason": "unknown person", **(detail or {})},
                    )
                    return Reply(
                        t(
                            "auth.unknown_person",
                            lang,
                            platform=sender.platform,
                            platform_user_id=sender.platform_user_id,
                        ),
                        private=True,
                        ok=False,
                    )
                try:
                    reply, action, outcome = await body(conn, person, who)
                except _Denied as denied:
                    reply, action, outcome = denied.reply, kind, denied.outcome
                await self._audit(conn, sender, person, action, target, outcome, detail or {})
                return reply
        except Exception as exc:
            outcome = "failed"
            return await self._failure(exc, kind, sender, target, chat, event_id)
        finally:
            self.s.metrics.commands.labels(kind, outcome).observe(time.perf_counter() - started)

    async def _first_delivery(
        self, conn: AsyncConnection, platform: str, event_id: str, now: Any
    ) -> bool:
        if not event_id:
            return True
        stmt = (
            self.s.db.insert(inbound_events)
            .values(platform=platform, event_id=event_id[:256], received_at=now)
            .on_conflict_do_nothing()
            .returning(inbound_events.c.event_id)
        )
        return (await conn.execute(stmt)).first() is not None

    async def _reader(self, conn: AsyncConnection, person: Person | None, chat: str) -> Reader:
        """The person's language and zone (their choice, then their configured language),
        else the chat's, else the configured default."""
        general = self.s.settings.tocsin
        return await reader(
            conn,
            user=person.id if person else None,
            chat=chat,
            default=Reader(general.language, general.timezone),
            configured=person.language if person else None,
        )

    async def _audit(
        self,
        conn: AsyncConnection,
        sender: Sender,
        person: Person | None,
        action: str,
        target: str,
        outcome: str,
        detail: dict[str, Any],
    ) -> None:
        actor = person.id if person else f"{sender.platform}:{sender.platform_user_id}"
        entry = AuditEntry(
            actor,
            sender.platform,
            action,
            target[:256],
            outcome,
            {"platform_user": sender.platform_user_id, **detail},
        )
        await append(self.s.db, conn, entry, self.s.clock.now())

    async def _failure(
        self, exc: Exception, kind: str, sender: Sender, target: str, chat: Any, event_id: str
    ) -> Reply:
        """The transaction is rolled back; say so in the audit log and to the person. (When
        even that fails, the request stays in the inbox, to be taken over.)"""
        async with self.s.db.begin() as conn:
            await self.inbox.finish(conn, sender.platform, event_id)
            person = self.s.directory.by_identity(sender.platform, sender.platform_user_id)
            lang = (await self._reader(conn, person, str(chat))).lang
            if isinstance(exc, CommandError):
                await self._audit(
                    conn, sender, person, kind, target, "failed", {"error": exc.message[:500]}
                )
                return Reply(word(exc, lang), private=True, ok=False)
            ref = secrets.token_hex(4)
            log.exception("request failed", ref=ref, kind=kind, target=target, exc_info=exc)
            await self._audit(
                conn,
                sender,
                person,
                kind,
                target,
                "failed",
                {"error": type(exc).__name__, "ref": ref},
            )
            return Reply(t("error.internal", lang, ref=ref), private=True, ok=False)

    # -- commands -------------------------------------------------------------------------------

    async def _command(
        self, conn: AsyncConnection, person: Person, who: Reader, request: CommandRequest
    ) -> tuple[Reply, str, str]:
        lang = who.lang
        body = split_command(request.text, self.bot_names, direct=True) or request.text.strip()
        body = "help" if asks_for_help(body) else body
        try:
            parsed = parse(body, self.s.registry.specs, self._vocabulary(), lang)
        except GrammarError as exc:
            raise _Denied(Reply(exc.message, private=True, ok=False), "invalid") from None
        command = self.s.registry.get(parsed.spec.name)
        ctx = Context(conn, person, lang, request.chat, self.s.clock.now(), self.s, who.tz)
        action = f"command:{parsed.spec.name}"
        service, environment = await command.scope(ctx, parsed)
        if not person.may(parsed.spec.permission, service, environment):
            raise _Denied(
                _denial(person, parsed.spec.permission, service, environment, lang), "denied"
            )
        return await command.handler(ctx, parsed), action, "allowed"

    def _vocabulary(self) -> dict[str, list[str]]:
        settings = self.s.settings
        return {
            "service": list(settings.services),
            "environment": list(settings.environments),
            "schedule": list(settings.schedules),
        }

    # -- card actions ---------------------------------------------------------------------------

    async def _action(
        self, conn: AsyncConnection, person: Person, who: Reader, request: CardActionRequest
    ) -> tuple[Reply, str, str]:
        lang = who.lang
        action = f"button:{request.action.value}"
        try:
            kind, number = parse_card_ref(request.card_ref)
        except ValueError:
            raise _Denied(
                Reply(t("error.bad_card", lang), private=True, ok=False), "invalid"
            ) from None
        ctx = Context(
            conn, person, lang, request.chat, self.s.clock.now(), self.s, who.tz, request.via
        )
        return await self.cards[kind](ctx, number, request), action, "allowed"

    async def _incident_action(
        self, ctx: Context, incident_id: int, request: CardActionRequest
    ) -> Reply:
        """A button of an incident card; whoever was paged for it may acknowledge it, or
        escalate it (a paged responder who cannot take it hands it on)."""
        if request.action not in PERMISSION:
            raise _Denied(Reply(t("error.bad_card", ctx.lang), private=True, ok=False), "invalid")
        person = ctx.person
        incident = await self.s.incidents.load(ctx.conn, incident_id, lock=True)
        permission = PERMISSION[request.action]
        if not person.may(permission, incident.service, incident.environment) and not (
            request.action in PAGED_MAY and await was_paged(ctx.conn, incident.id, person.id)
        ):
            raise _Denied(
                _denial(person, permission, incident.service, incident.environment, ctx.lang),
                "denied",
            )
        outcome = await self.s.actions.perform(ctx, incident, request.action, request.value)
        return outcome.reply(ctx.lang)

    async def _swap_action(self, ctx: Context, swap_id: int, request: CardActionRequest) -> Reply:
        return await self.s.oncall.decide_swap(ctx, swap_id, request.action)

    async def _run_action(self, ctx: Context, run_id: int, request: CardActionRequest) -> Reply:
        return await self.s.runs.press(ctx, run_id, request.action)

    async def _review_action(self, ctx: Context, run_id: int, request: CardActionRequest) -> Reply:
        """Done or Undo on one follow-up item of a review card (the item's id is the value)."""
        item_id = whole_number(request.value) if request.value.isascii() else None
        if (
            request.action not in (ActionKind.DONE, ActionKind.UNDONE)
            or item_id is None
            or not 1 <= item_id <= BIGINT_MAX
        ):
            raise _Denied(Reply(t("error.bad_card", ctx.lang), private=True, ok=False), "invalid")
        item = await followups.load(ctx.conn, item_id)
        if item is None or item.run_id != run_id:
            raise _Denied(Reply(t("error.bad_card", ctx.lang), private=True, ok=False), "invalid")
        try:
            return await review_desk.mark(
                ctx, item, done=request.action == ActionKind.DONE, private=True
            )
        except PermissionDenied as denied:
            reply = Reply(word(denied, ctx.lang), private=True, ok=False)
            raise _Denied(reply, "denied") from None

    async def _digest_action(
        self, ctx: Context, digest_id: int, request: CardActionRequest
    ) -> Reply:
        digest = (await ctx.conn.execute(select(digests).where(digests.c.id == digest_id))).first()
        if digest is None or request.action not in (ActionKind.ACK, ActionKind.SILENCE):
            raise _Denied(Reply(t("error.bad_card", ctx.lang), private=True, ok=False), "invalid")
        permission = PERMISSION[request.action]
        done, denied = 0, []
        for incident_id in digest.incident_ids:
            incident = await self.s.incidents.load(ctx.conn, incident_id, lock=True)
            if incident.status == Status.RESOLVED:
                continue
            if not ctx.person.may(permission, incident.service, incident.environment):
                denied.append(f"#{incident_id}")
                continue
            outcome = await self.s.actions.perform(ctx, incident, request.action, request.value)
            done += int(outcome.changed)
        await self.s.outbox.card(
            ctx.conn, f"digest:{digest_id}", [digest.destination], priority=1, now=ctx.now
        )
        text = t(
            "digest.done",
            ctx.lang,
            done=done,
            total=len(digest.incident_ids),
            verb=t(f"digest.verb.{request.action.value}", ctx.lang),
            denied=t("digest.denied", ctx.lang, ids=", ".join(denied)) if denied else "",
        )
        return Reply(text.strip())


def _target(request: Request) -> str:
    if isinstance(request, CommandRequest):
        return request.text
    return f"{request.card_ref} {request.action.value} {request.value}".strip()


def _denial(person: Person, permission: str, service: str, environment: str, lang: str) -> Reply:
    if service in ("*", "") and environment in ("*", ""):
        scope = t("auth.scope_any", lang)
    else:
        scope = t("auth.scope", lang, service=service or "-", environment=environment or "-")
    roles = ", ".join(person.roles) or t("auth.no_roles", lang)
    error = PermissionDenied(
        "auth.denied", action=t(f"action.{permission}", lang), scope=scope, roles=roles
    )
    return Reply(word(error, lang), private=True, ok=False)
