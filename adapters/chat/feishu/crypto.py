"""Feishu's request crypto: the Encrypt Key cipher and the ``X-Lark-Signature``.

- Body: ``{"encrypt": base64(iv16 ‖ AES-256-CBC(key = sha256(encrypt_key), PKCS#7(json)))}``,
  decrypted by lark-oapi's `AESCipher` (Feishu's published vector: key ``test key``,
  ``P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=`` → ``hello world``).
- Signature: ``sha256_hex(timestamp + nonce + encrypt_key + raw body)``, compared in constant
  time (lark-oapi compares with ``!=``).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac

from lark_oapi.core.utils import AESCipher  # type: ignore[import-untyped]


class DecryptError(ValueError):
    """The ``encrypt`` field is not something this Encrypt Key produced."""


def decrypt(encrypted: str, encrypt_key: str) -> str:
    """The plaintext of an ``encrypt`` field; `DecryptError` when it cannot be read."""
    try:
        text: str = AESCipher(encrypt_key).decrypt_str(encrypted)
    except (ValueError, binascii.Error, UnicodeDecodeError, TypeError) as exc:
        raise DecryptError(f"cannot decrypt the body: {type(exc).__name__}") from exc
    return text


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """The ``X-Lark-Signature`` Feishu sends with `body`."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def signature_matches(
    given: str, *, timestamp: str, nonce: str, encrypt_key: str, body: bytes
) -> bool:
    expected = signature(timestamp, nonce, encrypt_key, body)
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def same_secret(given: object, expected: str) -> bool:
    """Constant-time equality for the verification token."""
    return (
        isinstance(given, str)
        and bool(given)
        and hmac.compare_digest(given.encode(), expected.encode())
    )
