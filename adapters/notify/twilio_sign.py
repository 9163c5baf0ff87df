"""``X-Twilio-Signature``: how Twilio signs every webhook it sends, so Tocsin can tell Twilio's
callbacks from anyone else's POST.

The signature is base64(HMAC-SHA1(auth token, URL + every form parameter's name and value
concatenated, sorted by name)), where the URL is the full address Twilio requested — the public
one, scheme, host, path and query, not the one behind a proxy. Only the account's auth token
signs; an API key never does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

HEADER = "X-Twilio-Signature"


def signature(token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature Twilio sends for a POST of form `params` to `url`."""
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def valid(token: str, url: str, params: Iterable[tuple[str, str]], given: str) -> bool:
    """Whether `given` is Twilio's signature of this request (compared in constant time)."""
    return hmac.compare_digest(signature(token, url, params).encode(), given.encode())
