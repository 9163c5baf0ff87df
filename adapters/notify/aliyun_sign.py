"""Aliyun's RPC request signature, version 1.0 (HMAC-SHA1), as the POP API docs describe it.

1. Percent-encode every parameter name and value as RFC 3986 over UTF-8: only ``A-Z a-z 0-9 -
   _ . ~`` stay literal, a space is ``%20`` (not ``+``), ``*`` is ``%2A``.
2. Sort by name, join ``name=value`` pairs with ``&``: the canonicalized query string.
3. StringToSign = ``METHOD & %2F & percentEncode(canonicalized query)``.
4. Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).

`tests/adapters/notify/test_notify_signing.py` checks this against the examples Aliyun
publishes (ECS DescribeRegions and the SMS SendSms walkthrough).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote


def percent_encode(value: str) -> str:
    return quote(value, safe="-_.~", encoding="utf-8")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(
        f"{percent_encode(name)}={percent_encode(params[name])}" for name in sorted(params)
    )


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&%2F&{percent_encode(canonical_query(params))}"


def signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    digest = hmac.new(
        f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


def timestamp(when: datetime) -> str:
    """ISO 8601 in UTC, to the second: ``2016-02-23T12:46:24Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed(
    params: Mapping[str, str],
    *,
    access_key_id: str,
    secret: str,
    method: str,
    when: datetime,
    nonce: str,
) -> dict[str, str]:
    """`params` with the common parameters added and signed (``Signature`` last)."""
    full = {
        **params,
        "AccessKeyId": access_key_id,
        "Format": "JSON",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce,
        "SignatureVersion": "1.0",
        "Timestamp": timestamp(when),
    }
    full["Signature"] = signature(secret, method, full)
    return full
