"""What an SMS, call or e-mail page says: in the person's language, with its signed
acknowledge link, its reply code and how to answer from the phone."""

from __future__ import annotations

from datetime import datetime

from bot.escalation.pages import StoredPage
from bot.i18n import t
from bot.incidents.aggregate import Incident
from bot.incidents.status import card_ref
from bot.links import LinkSigner
from bot.model import ActionKind
from bot.paging import codes
from bot.ports import Page
from bot.settings import Settings


class Wording:
    def __init__(self, settings: Settings, signer: LinkSigner) -> None:
        self.settings, self.signer = settings, signer
        self.users = {u.id: u for u in settings.users}

    def page(
        self, row: StoredPage, incident: Incident, now: datetime, chosen: str | None = None
    ) -> Page:
        """The page in the person's language: `chosen` with `/lang`, else configured."""
        user = self.users.get(row.recipient)
        lang = chosen or (user.language if user else None) or self.settings.tocsin.language
        dest = f"{row.channel}:@{row.recipient}"
        token = self.signer.token(
            ActionKind.ACK, card_ref(incident.id), "", dest, row.recipient, now
        )
        url = self.signer.url(token)
        params = {
            "id": str(incident.id),
            "tier": str(incident.tier),
            "title": incident.title,
            "service": incident.service or "-",
            "environment": incident.environment or "-",
            "url": url,
            "code": codes.code(row.id),
        }
        prompt = ""
        if row.channel in ("sms", "voice"):
            prompt = t(f"page.{row.channel}_prompt", lang, **params)
        return Page(
            channel=row.channel,
            to=row.address,
            key=f"{incident.id}.{row.cycle}.{row.loop}.{row.step}.{row.recipient}.{row.channel}",
            subject=t("page.subject", lang, **params),
            text=t(f"page.{row.channel}", lang, **params),
            lang=lang,
            params=params,
            ack_url=url,
            code=params["code"],
            prompt=prompt,
        )
