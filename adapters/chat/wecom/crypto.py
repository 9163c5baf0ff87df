"""WXBizMsgCrypt, WeCom's callback encryption (doc 90968 "加解密方案说明"), on `cryptography`.

- ``msg_signature = sha1("".join(sorted([token, timestamp, nonce, ciphertext])))``, lowercase hex;
- ``AESKey = base64(EncodingAESKey + "=")`` (32 bytes); AES-256-CBC with IV = the key's first
  16 bytes and PKCS#7 padding to a **32-byte** block;
- plaintext = ``random(16) + len(msg) (4 bytes, network order) + msg + receive_id``, where the
  receive id is the corp id (self-built app) or ``""`` (AI bot).

Every failure is an `InputError` whose message says what was wrong: a wrong signature or receive
id is an `AuthenticationError` (401); ciphertext that cannot be decrypted (truncated, bad
padding, garbled layout) is a plain `InputError` (400), most often a wrong ``encoding_aes_key``.
Comparisons of secrets are constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.errors import AuthenticationError, InputError

BLOCK = 32
"""WeCom pads to 32 bytes, not AES's 16."""
KEY_LENGTH = 43


class WXBizMsgCrypt:
    """Signs, verifies, encrypts and decrypts with one callback Token and EncodingAESKey."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        self.token = token
        self.key = aes_key(encoding_aes_key)
        self.receive_id = receive_id

    def signature(self, timestamp: str, nonce: str, ciphertext: str) -> str:
        parts = sorted([self.token, timestamp, nonce, ciphertext])
        return hashlib.sha1("".join(parts).encode(), usedforsecurity=False).hexdigest()

    def verify(self, signature: str, timestamp: str, nonce: str, ciphertext: str) -> None:
        """Raise `AuthenticationError` unless `signature` signs the other three."""
        expected = self.signature(timestamp, nonce, ciphertext)
        if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
            raise AuthenticationError("wecom: msg_signature does not match (check the token)")

    def decrypt(self, ciphertext: str) -> str:
        """The message inside `ciphertext`, after checking its receive id."""
        data = _unbase64(ciphertext)
        if not data or len(data) % 16:
            raise InputError(
                f"wecom: truncated ciphertext ({len(data)} bytes, not a whole number of blocks)"
            )
        decryptor = self._cipher().decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        plain = _unpad(padded)
        if len(plain) < 20:
            raise InputError("wecom: decrypted message too short for its layout")
        (size,) = struct.unpack(">I", plain[16:20])
        if 20 + size > len(plain):
            raise InputError("wecom: decrypted message length runs past its end")
        message, receive_id = plain[20 : 20 + size], plain[20 + size :]
        if not hmac.compare_digest(receive_id, self.receive_id.encode()):
            raise AuthenticationError(
                "wecom: receive id does not match (expected the configured corp id, "
                "or an empty one for the AI bot)"
            )
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("wecom: decrypted message is not UTF-8") from None

    def encrypt(self, message: str, *, random16: bytes | None = None) -> str:
        """`message` encrypted for WeCom (base64), e.g. for a passive reply."""
        prefix = random16 if random16 is not None else os.urandom(16)
        if len(prefix) != 16:
            raise ValueError("random16 must be 16 bytes")
        body = message.encode()
        plain = prefix + struct.pack(">I", len(body)) + body + self.receive_id.encode()
        encryptor = self._cipher().encryptor()
        sealed = encryptor.update(_pad(plain)) + encryptor.finalize()
        return base64.b64encode(sealed).decode()

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key from the 43-character EncodingAESKey."""
    if len(encoding_aes_key) != KEY_LENGTH:
        raise ValueError(f"the EncodingAESKey has {KEY_LENGTH} characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the EncodingAESKey is not base64 (letters and digits only)") from None
    if len(key) != 32:
        raise ValueError("the EncodingAESKey does not decode to 32 bytes")
    return key


def _unbase64(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InputError("wecom: ciphertext is not valid base64") from None


def _pad(data: bytes) -> bytes:
    size = BLOCK - len(data) % BLOCK
    return data + bytes([size]) * size


def _unpad(data: bytes) -> bytes:
    size = data[-1]
    if not 1 <= size <= BLOCK or data[-size:] != bytes([size]) * size:
        raise InputError(
            "wecom: bad padding after decryption (is encoding_aes_key the one WeCom shows?)"
        )
    return data[:-size]
