"""A local fake of Twilio's REST API (``Messages.json`` and ``Calls.json``) on 127.0.0.1.

It checks HTTP Basic auth (the account SID and auth token, or an API key of that account),
the form fields, the E.164 numbers and that the TwiML parses, and answers with the recorded
resources (HTTP 201) or Twilio's error bodies: 20003 (401), 21211 (invalid To), 21614 (not a
mobile number), and whatever a test scripted with `fail`.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from xml.etree import ElementTree

from aiohttp import web
from notify_support import (
    TWILIO_KEY_SECRET,
    TWILIO_KEY_SID,
    TWILIO_SID,
    TWILIO_TOKEN,
    recorded,
)

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
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

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
        return self._created(resource, sid, form)

    def _authorized(self, header: str, sid: str) -> bool:
        if sid != TWILIO_SID or not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        self.logins.append(user)
        return (user, password) in {
            (TWILIO_SID, TWILIO_TOKEN),
            (TWILIO_KEY_SID, TWILIO_KEY_SECRET),
        }

    def _created(self, resource: str, sid: str, form: dict[str, str]) -> web.Response:
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
        return web.json_response(answer, status=201)


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
