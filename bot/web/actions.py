"""`GET|POST /a/{token}`: the signed action links that stand in for buttons on link-only chats.

GET shows what the link will do and asks for confirmation (so link previews and prefetchers
never act); POST acts. A link sent to one person acts as that person; a link posted in a group
first asks the opener to sign in with their console token.

Single use (see `bot.links.LinkUses`): the opener holds the link while the dispatcher runs the
action under the event id ``link:<nonce>``; an allowed action uses the link up in its own
transaction, a refusal gives it back. A second opener waits for the first to finish.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Mapping
from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.authz.throttle import Attempt, SignInGuard, Throttled
from bot.clock import Clock
from bot.errors import AuthenticationError
from bot.i18n import t
from bot.inbound import InboundHandler
from bot.links import BUSY, UNKNOWN, LinkClaim, LinkSigner, LinkUses, event_id
from bot.model import CardActionRequest, Destination, Sender
from bot.settings.oncall import PAGER_CHANNELS
from bot.web.body import read_body

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Tocsin</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
button{{font-size:1.1rem;padding:.6rem 1.2rem}} .ok{{color:#176c2b}} .err{{color:#b3261e}}</style>
</head><body><h1>Tocsin</h1>{body}</body></html>"""


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(body=body), status_code=status)


class ActionLinks:
    def __init__(
        self,
        signer: LinkSigner,
        inbound: InboundHandler,
        clock: Clock,
        console_tokens: Mapping[str, str],
        language: str,
        uses: LinkUses,
        guard: SignInGuard,
    ) -> None:
        self.signer, self.inbound, self.clock = signer, inbound, clock
        self.tokens, self.lang, self.uses = console_tokens, language, uses
        self.guard = guard

    wait = 5.0
    """Seconds a second opener waits for the first one's action to finish."""

    def routes(self) -> list[Route]:
        return [Route("/a/{token}", self.handle, methods=["GET", "POST"])]

    async def handle(self, request: Request) -> Response:
        try:
            claim = self.signer.verify(request.path_params["token"], self.clock.now())
        except AuthenticationError as exc:
            return _page(f'<p class="err">{escape(t(str(exc), self.lang))}</p>', 403)
        if request.method == "GET":
            return self._confirm(claim)
        form = await _form(request)
        user_id = claim.user_id
        if not user_id:  # a group's link: sign in with a console token, throttled like the console
            attempt = Attempt(request.client.host if request.client else "unknown", via="link")
            try:
                await self.guard.check(attempt)
            except Throttled as exc:
                page = _page(f'<p class="err">{escape(str(exc))}</p>', 429)
                page.headers["Retry-After"] = str(exc.retry_after)
                return page
            user_id = self._signed_in(form.get("token", ""))
            if not user_id:
                await self.guard.failed(attempt)
                return _page(f'<p class="err">{escape(t("link.sign_in", self.lang))}</p>', 401)
        used_by, token = await self._hold(claim.nonce)
        if not token:
            return _used(used_by, self.lang)
        # A hold left by a request that stopped half-way lapses (`LEASE`); it is not released
        # here, as its action may have committed just before it stopped.
        reply = await self.inbound.action(
            CardActionRequest(
                action=claim.action,
                card_ref=claim.card_ref,
                value=claim.value,
                sender=Sender("tocsin", user_id),
                chat=Destination.parse(claim.destination),
                event_id=event_id(claim.nonce),
                received_at=self.clock.now(),
                via=_via(claim),
            )
        )
        if reply.extra.get("duplicate"):  # used by a holder that stopped before saying who
            await self.uses.done(claim.nonce, token, UNKNOWN, self.clock.now())
            return _used(UNKNOWN, self.lang)
        if not reply.ok:
            await self.uses.release(claim.nonce, token)
            return _page(f'<p class="err">{escape(reply.text)}</p>', 403)
        await self.uses.done(claim.nonce, token, user_id, self.clock.now())
        return _page(f'<p class="ok">{escape(reply.text)}</p>')

    async def _hold(self, nonce: str) -> tuple[str, str]:
        """Hold the link, waiting while another opener's action runs."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while True:
            used_by, token = await self.uses.hold(nonce, self.clock.now())
            if used_by != BUSY or loop.time() >= deadline:
                return used_by, token
            await asyncio.sleep(0.05)

    def _confirm(self, claim: LinkClaim) -> Response:
        who = claim.user_id or "?"
        text = t(
            "link.confirm",
            self.lang,
            action=t(f"action.{_perm(claim)}", self.lang),
            card=claim.card_ref,
            user=who,
        )
        sign_in = (
            ""
            if claim.user_id
            else (
                f"<p>{escape(t('link.sign_in', self.lang))}</p>"
                '<p><input name="token" type="password" autocomplete="current-password" '
                'aria-label="token" required></p>'
            )
        )
        return _page(
            f'<form method="post"><p>{escape(text)}</p>{sign_in}'
            '<button type="submit">OK</button></form>'
        )

    def _signed_in(self, token: str) -> str:
        found = ""
        for user_id, expected in self.tokens.items():
            if token and hmac.compare_digest(token.encode(), expected.encode()):
                found = user_id
        return found


def _used(used_by: str, lang: str) -> Response:
    if used_by == BUSY:
        text = t("link.busy", lang)
    elif used_by == UNKNOWN:
        text = t("link.used", lang)
    else:
        text = t("link.used_by", lang, user=used_by)
    return _page(f'<p class="err">{escape(text)}</p>', 409)


def _via(claim: LinkClaim) -> str:
    """``link:sms`` for a link sent in a page (its destination is ``sms:@bob``); "" for a
    chat's link, which counts as that chat's button."""
    channel = claim.destination.partition(":")[0]
    return f"link:{channel}" if channel in PAGER_CHANNELS else ""


def _perm(claim: LinkClaim) -> str:
    return {"unack": "ack"}.get(claim.action.value, claim.action.value)


async def _form(request: Request) -> dict[str, str]:
    body = await read_body(request, 16_384)
    return {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
