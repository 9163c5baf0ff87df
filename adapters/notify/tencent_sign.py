"""Tencent Cloud API 3.0 request signature, TC3-HMAC-SHA256, for a JSON POST to ``/``.

1. CanonicalRequest = ``POST \\n / \\n (empty query) \\n content-type:…\\nhost:…\\n \\n
   content-type;host \\n hex(SHA256(body))``;
2. StringToSign = ``TC3-HMAC-SHA256 \\n timestamp \\n date/service/tc3_request \\n
   hex(SHA256(CanonicalRequest))`` — the date is the timestamp's UTC date;
3. the key is derived: HMAC(HMAC(HMAC("TC3" + SecretKey, date), service), "tc3_request");
4. Authorization = ``TC3-HMAC-SHA256 Credential=SecretId/scope, SignedHeaders=content-type;host,
   Signature=hex(HMAC(key, StringToSign))``.

`tests/adapters/notify/test_notify_signing.py` checks this against Tencent Cloud's published
example (CVM DescribeInstances at timestamp 1551113065).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
SIGNED_HEADERS = "content-type;host"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def canonical_request(host: str, body: bytes) -> str:
    headers = f"content-type:{CONTENT_TYPE}\nhost:{host.lower()}\n"
    return f"POST\n/\n\n{headers}\n{SIGNED_HEADERS}\n{_sha256(body)}"


def scope(timestamp: int, service: str) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    return f"{date}/{service}/tc3_request"


def string_to_sign(host: str, body: bytes, timestamp: int, service: str) -> str:
    hashed = _sha256(canonical_request(host, body).encode())
    return f"{ALGORITHM}\n{timestamp}\n{scope(timestamp, service)}\n{hashed}"


def signature(secret_key: str, host: str, body: bytes, timestamp: int, service: str) -> str:
    date = scope(timestamp, service).split("/", 1)[0]
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    message = string_to_sign(host, body, timestamp, service)
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def authorization(
    secret_id: str, secret_key: str, host: str, body: bytes, timestamp: int, service: str
) -> str:
    sig = signature(secret_key, host, body, timestamp, service)
    return (
        f"{ALGORITHM} Credential={secret_id}/{scope(timestamp, service)}, "
        f"SignedHeaders={SIGNED_HEADERS}, Signature={sig}"
    )
