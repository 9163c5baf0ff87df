"""A local fake of Twilio's REST API (``Messages.json`` and ``Calls.json``) on 127.0.0.1, and of
the webhooks Twilio sends back.

It checks HTTP Basic auth (the account SID and auth token, or an API key of that account),
the form fields, the E.164 numbers and that the TwiML parses, and answers with the recorded
resources (HTTP 201) or Twilio's error bodies: 20003 (401), 21211 (invalid To), 21614 (not a
mobile number), and whatever a test scripted with `fail`.

Like Twilio, it calls the app under test back, each request form-encoded and signed with
``X-Twilio-Signature`` (the account's auth token over the public URL and the form):

    fake.callbacks_to("https://tocsin.example", app=tocsin.app)   # or base_url="http://127.0.0.1:…"
    await fake.deliver(sid)                        # the status callback the send asked for
    answer = await fake.inbound("+8613800138000", "1")    # an SMS to the sending number
    answer = await fake.press(call_sid, "1")      # a key pressed in the call's <Gather>

Each returns the app's `Callback` (status, body, the ``<Message>`` / ``<Say>`` texts); pass
``token=`` to sign with another token (a forgery), or use `post` for any other request.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from xml.etree import ElementTree

import httpx
from aiohttp import web
from notify_support import (
    TWILIO_KEY_SECRET,
    TWILIO_KEY_SID,
    TWILIO_SID,
    TWILIO_TOKEN,
    recorded,
)
from starlette.types import ASGIApp

from adapters.notify.callbacks import path
from adapters.notify.twilio_sign import HEADER, signature
from tests.fake_http import FakeHttpServer

INVALID = "+15005550001"
"""Twilio's magic test number for an invalid 'To' (21211)."""
NOT_MOBILE = "+15005550009"
"""Twilio's magic test number for one that cannot receive SMS (21614)."""
ERRORS = {
    20003: (401, "Authenticate"),
    21211: (400, "The 'To' number is not a valid phone number."),
    21614: (400, "'To' number is not a valid mobile number"),
    21604: (400, "A 'To' phone number is required."),
    20429: (429, "Too Many Requests"),
}


APP_BASE = "http://tocsin.test"
"""Where requests to an app driven in-process (ASGI) are addressed."""
SENDER = "+15005550006"
"""The number pages come from in the tests' sections (`notify_support.twilio`)."""


@dataclass(frozen=True)
class Callback:
    """The app's answer to a webhook: HTTP status and body (TwiML, JSON or nothing)."""

    status: int
    body: str

    def _twiml(self) -> ElementTree.Element | None:
        if not self.body.startswith("<"):
            return None
        return ElementTree.fromstring(self.body)  # noqa: S314 — the app's own TwiML

    @property
    def message(self) -> str | None:
        """The text of the SMS sent back (``<Message>``), None when there is none."""
        root = self._twiml()
        found = None if root is None else root.find("Message")
        return None if found is None else found.text or ""

    @property
    def said(self) -> list[str]:
        """What the call reads (each ``<Say>``)."""
        root = self._twiml()
        return [] if root is None else [say.text or "" for say in root.iter("Say")]

    @property
    def hung_up(self) -> bool:
        root = self._twiml()
        return root is not None and root.find("Hangup") is not None


@dataclass
class Failure:
    status: int
    code: int | None
    retry_after: float | None


@dataclass
class FakeTwilio(FakeHttpServer):
    sent: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    """Accepted requests: resource (``Messages`` / ``Calls``) and form."""
    logins: list[str] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    created: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    """Each accepted message or call by sid: resource and form (``StatusCallback``, ``Twiml``)."""
    token: str = TWILIO_TOKEN
    """The account's auth token, which signs the webhooks."""
    public_url: str = ""
    app: ASGIApp | None = None
    app_url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _inbound_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/2010-04-01/Accounts/{sid}/{resource}.json", self._create)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(
        self,
        resource: str,
        *,
        status: int,
        code: int | None = None,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        self.failures[resource].extend(Failure(status, code, retry_after) for _ in range(times))

    def forms(self, resource: str) -> list[dict[str, str]]:
        return [form for name, form in self.sent if name == resource]

    def sids(self, resource: str) -> list[str]:
        """The sids of the accepted ``Messages`` or ``Calls``, oldest first."""
        return [sid for sid, (name, _) in self.created.items() if name == resource]

    def callbacks_to(
        self, public_url: str, *, app: ASGIApp | None = None, base_url: str = ""
    ) -> None:
        """Send webhooks for `public_url` (Tocsin's ``public_url``, which they are signed for)
        to an ASGI `app` in-process, or to `base_url` (an app served on 127.0.0.1)."""
        assert (app is None) != (not base_url), "give app or base_url"
        self.public_url, self.app, self.app_url = public_url.rstrip("/"), app, base_url

    async def deliver(
        self,
        sid: str,
        status: str | None = None,
        error_code: int | str | None = None,
        *,
        token: str | None = None,
    ) -> Callback:
        """The status callback of message or call `sid` (``delivered`` / ``completed`` unless
        `status` says otherwise), sent where its ``StatusCallback`` pointed."""
        resource, form = self.created[sid]
        url = form.get("StatusCallback")
        assert url, f"{sid} was created without a StatusCallback"
        common = {"AccountSid": TWILIO_SID, "From": form.get("From", SENDER), "To": form["To"]}
        if resource == "Messages":
            word = status or "delivered"
            params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": word, "SmsStatus": word}
        else:
            word = status or "completed"
            params = {"CallSid": sid, "CallStatus": word, "Direction": "outbound-api"}
            if word == "completed":
                params["CallDuration"] = "14"
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return await self.post(url, {**common, **params, "ApiVersion": "2010-04-01"}, token=token)

    async def inbound(
        self,
        from_: str,
        body: str,
        *,
        to: str = SENDER,
        name: str = "twilio",
        token: str | None = None,
    ) -> Callback:
        """An SMS from `from_` to Tocsin's number, to the incoming-message webhook an operator
        sets on it (provider `name`'s ``sms/inbound``)."""
        sid = f"SM{0xFACE0000 + next(self._inbound_ids):032x}"
        form = {
            "AccountSid": TWILIO_SID,
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }
        return await self.post(self.public_url + path(name, "sms", "inbound"), form, token=token)

    async def press(self, call_sid: str, digits: str, *, token: str | None = None) -> Callback:
        """Keys pressed in call `call_sid`: POSTed to its TwiML's ``<Gather action>``."""
        _, form = self.created[call_sid]
        gather = ElementTree.fromstring(form["Twiml"]).find("Gather")  # noqa: S314
        assert gather is not None, f"{call_sid}'s TwiML takes no keys: {form['Twiml']}"
        action = gather.get("action", "")
        params = {
            "AccountSid": TWILIO_SID,
            "CallSid": call_sid,
            "From": form["From"],
            "To": form["To"],
            "Digits": digits,
            "FinishedOnKey": "",
            "CallStatus": "in-progress",
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
        }
        return await self.post(action, params, token=token)

    async def post(
        self,
        url: str,
        form: dict[str, str],
        *,
        token: str | None = None,
        signed_url: str | None = None,
        content: bytes | None = None,
        signed: bool = True,
    ) -> Callback:
        """POST `form` to public `url` as Twilio would, signed with `token` (default: the
        account's) over `signed_url` (default: `url`), or not at all (`signed` false);
        `content` replaces the body as sent."""
        assert url.startswith(self.public_url), f"{url} is not under {self.public_url}"
        sign = signature(token or self.token, signed_url or url, form.items())
        headers = {"User-Agent": "TwilioProxy/1.1", **({HEADER: sign} if signed else {})}
        target = (APP_BASE if self.app is not None else self.app_url) + url[len(self.public_url) :]
        transport = httpx.ASGITransport(app=self.app) if self.app is not None else None
        async with httpx.AsyncClient(transport=transport, timeout=10) as client:
            response = await client.post(
                target,
                data=None if content is not None else form,
                content=content,
                headers=headers,
            )
        return Callback(response.status_code, response.text)

    async def _create(self, request: web.Request) -> web.Response:
        resource, sid = request.match_info["resource"], request.match_info["sid"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        if resource in self.held:
            await self.held[resource].wait()
        if not self._authorized(request.headers.get("Authorization", ""), sid):
            return _error(20003)
        if self.failures[resource]:
            failure = self.failures[resource].pop(0)
            headers = {"Retry-After": str(int(failure.retry_after))} if failure.retry_after else {}
            if failure.code is None:
                return web.Response(status=failure.status, text="trouble", headers=headers)
            return _error(failure.code, failure.status, headers)
        if resource not in ("Messages", "Calls"):
            return _error(20404, 404)
        to = form.get("To", "")
        if not to:
            return _error(21604)
        if to == INVALID or not re.fullmatch(r"\+[1-9]\d{4,14}", to):
            return _error(21211)
        if resource == "Messages":
            if to == NOT_MOBILE:
                return _error(21614)
            if not form.get("Body") or not (form.get("From") or form.get("MessagingServiceSid")):
                return _error(21602, 400)
        else:
            if not form.get("From") or not form.get("Twiml"):
                return _error(21205, 400)
            try:
                ElementTree.fromstring(form["Twiml"])  # noqa: S314 — our own TwiML, no DTD
            except ElementTree.ParseError:
                return _error(12100, 400)
        self.sent.append((resource, form))
        response, new_sid = self._created(resource, sid, form)
        self.created[new_sid] = (resource, form)
        return response

    def _authorized(self, header: str, sid: str) -> bool:
        if sid != TWILIO_SID or not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        self.logins.append(user)
        return (user, password) in {
            (TWILIO_SID, TWILIO_TOKEN),
            (TWILIO_KEY_SID, TWILIO_KEY_SECRET),
        }

    def _created(self, resource: str, sid: str, form: dict[str, str]) -> tuple[web.Response, str]:
        prefix, name = (
            ("SM", "twilio_message_created")
            if resource == "Messages"
            else ("CA", "twilio_call_created")
        )
        answer = recorded(name)
        new_sid = f"{prefix}{next(self._ids):032x}"
        answer.update(
            sid=new_sid,
            account_sid=sid,
            to=form["To"],
            uri=f"/2010-04-01/Accounts/{sid}/{resource}/{new_sid}.json",
        )
        answer["from"] = form.get("From")
        if resource == "Messages":
            answer["body"] = form["Body"]
            answer["messaging_service_sid"] = form.get("MessagingServiceSid")
            if form.get("MessagingServiceSid"):
                answer["status"] = "accepted"
        return web.json_response(answer, status=201), new_sid


def _error(
    code: int, status: int | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    default_status, message = ERRORS.get(code, (status or 400, "scripted failure"))
    answer = recorded("twilio_error")
    answer.update(
        code=code,
        message=message,
        more_info=f"https://www.twilio.com/docs/errors/{code}",
        status=status or default_status,
    )
    return web.json_response(answer, status=status or default_status, headers=headers)
