"""`GET|POST /a/{token}`: the signed action links that stand in for buttons on link-only chats.

GET shows what the link will do and asks for confirmation (so link previews and prefetchers
never act); POST acts. A link sent to one person acts as that person; a link posted in a group
first asks the opener to sign in with their console token. The link's nonce is the event id, so
the dispatcher's de-duplication makes each link single-use.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.clock import Clock
from bot.errors import AuthenticationError
from bot.i18n import t
from bot.inbound import InboundHandler
from bot.links import LinkClaim, LinkSigner
from bot.model import CardActionRequest, Destination, Sender
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
    ) -> None:
        self.signer, self.inbound, self.clock = signer, inbound, clock
        self.tokens, self.lang = console_tokens, language

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
        user_id = claim.user_id or self._signed_in(form.get("token", ""))
        if not user_id:
            return _page(f'<p class="err">{escape(t("link.sign_in", self.lang))}</p>', 401)
        reply = await self.inbound.action(
            CardActionRequest(
                action=claim.action,
                card_ref=claim.card_ref,
                value=claim.value,
                sender=Sender("tocsin", user_id),
                chat=Destination.parse(claim.destination),
                event_id=f"link:{claim.nonce}",
                received_at=self.clock.now(),
            )
        )
        if reply.extra.get("duplicate"):
            return _page(f'<p class="err">{escape(t("link.used", self.lang))}</p>', 409)
        css = "ok" if reply.ok else "err"
        return _page(f'<p class="{css}">{escape(reply.text)}</p>', 200 if reply.ok else 403)

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


def _perm(claim: LinkClaim) -> str:
    return {"unack": "ack"}.get(claim.action.value, claim.action.value)


async def _form(request: Request) -> dict[str, str]:
    body = await read_body(request, 16_384)
    return {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
