"""E-mail pages through a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest
from fake_smtp import PASSWORD, USER, FakeSmtp, silent_server
from notify_support import page

from bot.errors import PermanentDelivery, RetryableDelivery
from bot.ports import Notifier

Make = Callable[..., Notifier]
TO = "alice@example.com"


def email_section(port: int, **overrides: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": USER,
        "password": PASSWORD,
        "sender": "Tocsin 值班 <tocsin@example.com>",
        "timeout": "5s",
        **overrides,
    }


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    return text.get_content(), html.get_content()


async def test_page_arrives_as_text_and_html_in_utf8(smtp: FakeSmtp, make: Make) -> None:
    mail = make("email", email_section(smtp.port))
    receipt = await mail.send(page("email", to=TO, subject="[P0] #42 订单服务错误率过高"))

    [received] = smtp.received
    message = received.message
    assert received.rcpt_tos == [TO] and received.mail_from == "tocsin@example.com"
    assert smtp.logins == [USER]
    assert message["Subject"] == "[P0] #42 订单服务错误率过高"
    assert message["To"] == TO
    assert message.get_content_type() == "multipart/alternative"
    text, html = parts(message)
    assert "订单服务错误率过高" in text and "请尽快处理" in text
    assert "订单服务错误率过高" in html
    assert receipt.provider == "smtp" and receipt.message_id == message["Message-ID"]
    assert message["X-Tocsin-Page"] == "incident-42/step-1/alice/email/1"
    assert message["Auto-Submitted"] == "auto-generated"


async def test_acknowledge_link_is_in_both_parts(smtp: FakeSmtp, make: Make) -> None:
    mail = make("email", email_section(smtp.port))
    await mail.send(page("email", to=TO, lang="en", ack_url="https://tocsin.test/ack?a=1&s=x"))

    text, html = parts(smtp.received[0].message)
    assert "Acknowledge: https://tocsin.test/ack?a=1&s=x" in text
    assert 'href="https://tocsin.test/ack?a=1&amp;s=x"' in html
    assert ">Acknowledge</a>" in html


async def test_acknowledge_label_follows_the_language(smtp: FakeSmtp, make: Make) -> None:
    mail = make("email", email_section(smtp.port))
    await mail.send(page("email", to=TO, lang="zh"))
    text, html = parts(smtp.received[0].message)
    assert "认领: https://tocsin.test/ack/42/alice?sig=abc" in text
    assert ">认领</a>" in html and 'lang="zh-CN"' in html


async def test_no_acknowledge_link_without_an_ack_url(smtp: FakeSmtp, make: Make) -> None:
    mail = make("email", email_section(smtp.port))
    await mail.send(page("email", to=TO, ack_url=""))
    text, html = parts(smtp.received[0].message)
    assert "认领" not in text and "<a " not in html


async def test_html_escapes_the_page_text(smtp: FakeSmtp, make: Make) -> None:
    mail = make("email", email_section(smtp.port))
    await mail.send(page("email", to=TO, text="<script>alert(1)</script>\n\nsecond"))
    _, html = parts(smtp.received[0].message)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<p>second</p>" in html


async def test_message_id_is_stable_for_a_page_key(smtp: FakeSmtp, make: Make) -> None:
    mail = make("email", email_section(smtp.port))
    first = await mail.send(page("email", to=TO))
    again = await mail.send(page("email", to=TO))
    other = await mail.send(page("email", to=TO, key="incident-42/step-2/alice/email/1"))

    ids = [received.message["Message-ID"] for received in smtp.received]
    assert ids[0] == ids[1] == first.message_id == again.message_id
    assert ids[2] != ids[0] and other.message_id == ids[2]
    assert ids[0].startswith("<tocsin.") and ids[0].endswith("@example.com>")


async def test_refused_recipient_is_permanent(smtp: FakeSmtp, make: Make) -> None:
    smtp.refuse[TO] = "550 5.1.1 No such user"
    mail = make("email", email_section(smtp.port))
    with pytest.raises(PermanentDelivery, match="550"):
        await mail.send(page("email", to=TO))
    assert smtp.received == []


async def test_deferred_recipient_is_retryable(smtp: FakeSmtp, make: Make) -> None:
    smtp.refuse[TO] = "450 4.2.1 Mailbox busy, try later"
    mail = make("email", email_section(smtp.port))
    with pytest.raises(RetryableDelivery, match="450"):
        await mail.send(page("email", to=TO))


async def test_wrong_password_is_permanent(smtp: FakeSmtp, make: Make) -> None:
    mail = make("email", email_section(smtp.port, password="not-the-password"))
    with pytest.raises(PermanentDelivery, match="login refused") as caught:
        await mail.send(page("email", to=TO))
    assert "not-the-password" not in str(caught.value)
    assert smtp.received == []


async def test_starttls_that_the_server_does_not_offer_is_permanent(
    smtp: FakeSmtp, make: Make
) -> None:
    mail = make("email", email_section(smtp.port, security="starttls"))
    with pytest.raises(PermanentDelivery, match=r"(?i)starttls"):
        await mail.send(page("email", to=TO))


async def test_without_login(smtp: FakeSmtp, make: Make) -> None:
    section = email_section(smtp.port)
    del section["username"], section["password"]
    await make("email", section).send(page("email", to=TO))
    assert smtp.logins == [] and len(smtp.received) == 1


async def test_server_down_is_retryable(make: Make) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mail = make("email", email_section(port))
    with pytest.raises(RetryableDelivery):
        await mail.send(page("email", to=TO))


async def test_server_that_never_answers_times_out_retryably(make: Make) -> None:
    server, port = await silent_server()
    try:
        mail = make("email", email_section(port, timeout="300ms"))
        with pytest.raises(RetryableDelivery, match="timed out"):
            await mail.send(page("email", to=TO))
    finally:
        server.close()
        await server.wait_closed()
