"""E-mail pages over SMTP (`aiosmtplib`): a multipart/alternative message, plain text and HTML,
in UTF-8, with a one-click acknowledge link when the page has one.

The ``Message-ID`` is derived from the page key, so a page sent again carries the same id and
mail clients and archives recognise it as the same message; ``X-Tocsin-Page`` holds the key
itself. One connection per page: paging mail is rare, and a connection kept open would be one
more thing to go stale.

Failures, by the SMTP reply code (4xx is temporary, 5xx permanent):

- a refused recipient, sender or message: 4xx → `RetryableDelivery`, 5xx → `PermanentDelivery`;
- refused login: `PermanentDelivery` (454, a temporary auth failure, is retryable);
- the server lacks STARTTLS or AUTH that the settings ask for → `PermanentDelivery`;
- connection refused or lost, timeouts, TLS trouble → `RetryableDelivery`.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from html import escape

import aiosmtplib

from adapters.notify.settings import EmailSettings
from adapters.notify.values import brief
from bot.clock import Clock, SystemClock
from bot.errors import DeliveryError, PermanentDelivery, RetryableDelivery
from bot.i18n import t
from bot.ports import Page, Receipt

PROVIDER = "smtp"
BUTTON = (
    "display:inline-block;padding:10px 20px;background:#c5221f;color:#ffffff;"
    "font-weight:bold;text-decoration:none;border-radius:4px"
)


def message_id(key: str, sender: str) -> str:
    """A stable ``Message-ID`` for a page key, in the sender's domain."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "tocsin.invalid"
    return f"<tocsin.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def compose(page: Page, *, sender: str, clock: Clock) -> EmailMessage:
    """The e-mail for `page`: text and HTML alternatives, headers that identify the page."""
    message = EmailMessage()
    message["Subject"] = page.subject
    message["From"] = sender
    message["To"] = page.to
    message["Date"] = formatdate(clock.now().timestamp(), usegmt=True)
    message["Message-ID"] = message_id(page.key, sender)
    message["X-Tocsin-Page"] = page.key
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_text(page), charset="utf-8")
    message.add_alternative(_html(page), subtype="html", charset="utf-8")
    return message


def _text(page: Page) -> str:
    text = page.text.rstrip()
    if page.ack_url:
        text += f"\n\n{t('button.ack', page.lang)}: {page.ack_url}"
    return text + "\n"


def _html(page: Page) -> str:
    lang = "zh-CN" if page.lang.startswith("zh") else "en"
    paragraphs = "".join(
        f"<p>{escape(block).replace(chr(10), '<br>')}</p>"
        for block in page.text.strip().split("\n\n")
        if block.strip()
    )
    ack = ""
    if page.ack_url:
        label, url = escape(t("button.ack", page.lang)), escape(page.ack_url)
        ack = (
            f'<p><a href="{url}" style="{BUTTON}">{label}</a></p>'
            f'<p style="color:#5f6368;font-size:12px">{label}: <a href="{url}">{url}</a></p>'
        )
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(page.subject)}</title></head>"
        f"<body><h3>{escape(page.subject)}</h3>{paragraphs}{ack}</body></html>"
    )


class EmailNotifier:
    """Sends pages by SMTP with the ``email:`` settings."""

    channel = "email"
    provider = PROVIDER

    def __init__(self, settings: EmailSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()

    async def send(self, page: Page) -> Receipt:
        s = self.settings
        message = compose(page, sender=s.sender, clock=self.clock)
        try:
            await aiosmtplib.send(
                message,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password.get_secret_value() if s.password is not None else None,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                validate_certs=s.validate_certs,
                timeout=s.timeout.total_seconds(),
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise smtp_error(exc) from exc
        return Receipt(PROVIDER, str(message["Message-ID"]))

    async def aclose(self) -> None:
        """Nothing stays open between pages."""


def smtp_error(exc: Exception) -> DeliveryError:
    """The `DeliveryError` for what `aiosmtplib.send` raised."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        reason = "; ".join(f"{r.code} {brief(r.message)}" for r in exc.recipients)
        if codes and all(400 <= code < 500 for code in codes):
            return RetryableDelivery(f"smtp: recipient deferred: {reason}")
        return PermanentDelivery(f"smtp: recipient refused: {reason}")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        if 400 <= exc.code < 500:
            return RetryableDelivery(f"smtp: login deferred: {exc.code} {brief(exc.message)}")
        return PermanentDelivery(f"smtp: login refused: {exc.code} {brief(exc.message)}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        what = type(exc).__name__.removeprefix("SMTP")
        reason = f"smtp: {what}: {exc.code} {brief(exc.message)}"
        if 400 <= exc.code < 500:
            return RetryableDelivery(reason)
        if 500 <= exc.code < 600:
            return PermanentDelivery(reason)
        return RetryableDelivery(reason)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return RetryableDelivery("smtp: timed out")
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected):
        return RetryableDelivery(f"smtp: {type(exc).__name__}: {brief(exc)}")
    if isinstance(exc, aiosmtplib.SMTPException):  # STARTTLS / AUTH not offered, and the like
        return PermanentDelivery(f"smtp: {brief(exc)}")
    return RetryableDelivery(f"smtp: {type(exc).__name__}")
