"""WXBizMsgCrypt against WeCom's published vectors (research/platforms.md §C.4), its clear
refusals, and the callback gate's time window and replay protection."""

from __future__ import annotations

import base64
import struct
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from adapters.chat.wecom.crypto import WXBizMsgCrypt, aes_key
from adapters.chat.wecom.envelope import ciphertext, message_fields, xml_fields
from adapters.chat.wecom.verify import CallbackGate
from bot.clock import FakeClock
from bot.errors import AuthenticationError, InputError
from bot.replay import MemoryReplays

# Vector 1 (XML, doc 90968)
XML_TOKEN, XML_KEY, XML_CORP = (
    "QDG6eK",
    "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "wx5823bf96d3bd56c7",
)
XML_SIGNATURE, XML_TIMESTAMP, XML_NONCE = (
    "477715d11cdb4164915debcba66cb864d751f3e6",
    "1409659813",
    "1372623149",
)
XML_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj"
    "911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06D"
    "OdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH0"
    "3v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6Bp"
    "NelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
XML_PLAIN = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
    "<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n"
    "<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>"
)
# Vector 2 (JSON sample, sbzhu/weworkapi_python callback_json/Sample.py)
JSON_TOKEN, JSON_KEY = (
    "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
    "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
)
JSON_RECEIVER = "ww1436e0e65a779aee"
ECHOSTR = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
JSON_ENCRYPT = (
    "cjhLUX7UU4yCSelv1vz7T0zT8huF51bAMVWriNvO1FMegHrQZNrtvRxbwf0fUPsFvwqR0U0fgiJNEA5Y30F2MoI2S7vv3E"
    "jVQ68C0cjw9frBoUE2Hj0BvFp9h3u6Vbsg4lc1C8AtHdaN8orKuNKkLRLuYEL52R1J3v8olJGZRLnRdVKIivixmX/eQpzge"
    "Extp20jI1HxRP1AAZ6xZoILdqDPO549LO4WeG+685JRUTdiwcY5fjZlqeMxuT4PpMn1X9OWsS7NRj06Wa5E3Tvg4twjWp3"
    "9KPfOdRte6P1T4JU="
)


def xml_crypt(receive_id: str = XML_CORP) -> WXBizMsgCrypt:
    return WXBizMsgCrypt(XML_TOKEN, XML_KEY, receive_id)


def json_crypt(receive_id: str = JSON_RECEIVER) -> WXBizMsgCrypt:
    return WXBizMsgCrypt(JSON_TOKEN, JSON_KEY, receive_id)


def test_the_xml_vector_signs_and_decrypts() -> None:
    crypt = xml_crypt()
    assert crypt.signature(XML_TIMESTAMP, XML_NONCE, XML_ENCRYPT) == XML_SIGNATURE
    crypt.verify(XML_SIGNATURE, XML_TIMESTAMP, XML_NONCE, XML_ENCRYPT)
    assert crypt.decrypt(XML_ENCRYPT) == XML_PLAIN
    fields = message_fields(XML_PLAIN)
    assert (fields["FromUserName"], fields["Content"], fields["AgentID"]) == (
        "mycreate",
        "hello",
        "218",
    )


def test_the_json_vector_verifies_the_url_and_decrypts() -> None:
    crypt = json_crypt()
    crypt.verify("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683", ECHOSTR)
    assert crypt.decrypt(ECHOSTR) == "1288432023552776189"
    crypt.verify(
        "e3647471e395139e2308c1fa963f2d648a00b90e", "1409659813", "1372623149", JSON_ENCRYPT
    )
    plain = crypt.decrypt(JSON_ENCRYPT)
    assert plain.startswith('{ "ToUserName": "wx5823bf96d3bd56c7", "FromUserName": :mycreate"')
    assert plain.endswith('"MsgId": 4561255354251345929, "AgentID": 218}')
    with pytest.raises(InputError, match="not valid JSON"):  # the sample itself is malformed
        message_fields(plain)


def test_a_wrong_signature_is_refused() -> None:
    crypt = xml_crypt()
    with pytest.raises(AuthenticationError, match="msg_signature does not match"):
        crypt.verify("0" * 40, XML_TIMESTAMP, XML_NONCE, XML_ENCRYPT)
    with pytest.raises(AuthenticationError):
        crypt.verify(XML_SIGNATURE, XML_TIMESTAMP, "1372623150", XML_ENCRYPT)
    with pytest.raises(AuthenticationError):
        WXBizMsgCrypt("other", XML_KEY, XML_CORP).verify(
            XML_SIGNATURE, XML_TIMESTAMP, XML_NONCE, XML_ENCRYPT
        )


def test_a_wrong_receive_id_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="receive id does not match"):
        xml_crypt("ww_someone_else").decrypt(XML_ENCRYPT)
    with pytest.raises(AuthenticationError, match="receive id"):
        json_crypt("").decrypt(ECHOSTR)  # an AI bot's empty receive id


def test_truncated_ciphertext_is_refused() -> None:
    raw = base64.b64decode(XML_ENCRYPT)
    for cut in (raw[:-1], raw[:-16][:-3], b""):
        with pytest.raises(InputError, match="truncated ciphertext"):
            xml_crypt().decrypt(base64.b64encode(cut).decode())
    with pytest.raises(InputError, match="not valid base64"):
        xml_crypt().decrypt(XML_ENCRYPT[:-3] + "!!=")


def _sealed(plain: bytes) -> str:
    key = aes_key(XML_KEY)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def test_bad_padding_is_refused() -> None:
    body = b"r" * 16 + struct.pack(">I", 5) + b"hello" + XML_CORP.encode()
    size = 32 - len(body) % 32
    assert xml_crypt().decrypt(_sealed(body + bytes([size]) * size)) == "hello"
    for bad in (
        body + bytes([0]) * size,  # pad byte 0
        body + bytes([size + 1]) * size,  # claims more than it pads
        body + bytes([size]) * (size - 1) + bytes([size - 1]),  # uneven pad bytes
        (body + b"x" * 64)[:64] + bytes([33]) * 32,  # beyond the 32-byte block
    ):
        with pytest.raises(InputError, match="bad padding"):
            xml_crypt().decrypt(_sealed(bad))


def test_garbled_layout_is_refused() -> None:
    short = b"r" * 10
    with pytest.raises(InputError, match="too short"):
        xml_crypt().decrypt(_sealed(short + bytes([22]) * 22))
    lying = b"r" * 16 + struct.pack(">I", 999) + b"hi"
    with pytest.raises(InputError, match="runs past its end"):
        xml_crypt().decrypt(_sealed(lying + bytes([10]) * 10))


def test_encrypt_round_trips_and_pads_to_32_bytes() -> None:
    crypt = xml_crypt()
    for message in ("", "hello", "告警 " * 40, "x" * 31):
        sealed = crypt.encrypt(message, random16=b"0123456789abcdef")
        assert len(base64.b64decode(sealed)) % 32 == 0
        assert crypt.decrypt(sealed) == message
    assert crypt.encrypt("a") != crypt.encrypt("a"), "a fresh random prefix each time"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("short", "43 characters"),
        ("!" * 43, "not base64"),
    ],
)
def test_bad_encoding_aes_keys(key: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        aes_key(key)


def gate(at: str, *, window: float = 300) -> CallbackGate:
    clock = FakeClock(datetime.fromtimestamp(int(at), UTC))
    return CallbackGate(xml_crypt(), clock, timedelta(seconds=window), MemoryReplays())


QUERY = {"msg_signature": XML_SIGNATURE, "timestamp": XML_TIMESTAMP, "nonce": XML_NONCE}


async def test_the_gate_opens_the_vector_once_within_its_window() -> None:
    for offset, accepted in ((0, True), (299, True), (-299, True), (301, False), (-301, False)):
        stamp = str(int(XML_TIMESTAMP) + offset)
        if accepted:
            plain, _claim = await gate(stamp).open(QUERY, XML_ENCRYPT)
            assert plain == XML_PLAIN
        else:
            with pytest.raises(AuthenticationError, match="stale or future timestamp"):
                await gate(stamp).open(QUERY, XML_ENCRYPT)
    once = gate(XML_TIMESTAMP)
    _plain, claim = await once.open(QUERY, XML_ENCRYPT)
    with pytest.raises(AuthenticationError, match="replayed"):
        await once.open(QUERY, XML_ENCRYPT)
    await once.release(claim)
    assert (await once.open(QUERY, XML_ENCRYPT))[0] == XML_PLAIN, "released after a failed request"
    with pytest.raises(AuthenticationError, match="required"):
        await once.open({"timestamp": XML_TIMESTAMP}, XML_ENCRYPT)


async def test_the_gate_answers_url_verification() -> None:
    clock = FakeClock(datetime.fromtimestamp(1476416373, UTC))
    json_gate = CallbackGate(json_crypt(), clock, timedelta(minutes=5), MemoryReplays())
    query = {
        "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
        "timestamp": "1476416373",
        "nonce": "47744683",
        "echostr": ECHOSTR,
    }
    assert await json_gate.echo(query) == "1288432023552776189"
    with pytest.raises(InputError, match="without echostr"):
        await json_gate.echo({k: v for k, v in query.items() if k != "echostr"})


def test_envelopes_in_xml_and_json() -> None:
    xml = (
        "<xml><ToUserName><![CDATA[x]]></ToUserName>"
        f"<Encrypt><![CDATA[{XML_ENCRYPT}]]></Encrypt></xml>"
    )
    assert ciphertext(xml.encode()) == XML_ENCRYPT
    assert ciphertext(b'{"encrypt": "abc"}') == "abc"
    assert ciphertext(b'{"ToUserName": "x", "Encrypt": "abc"}') == "abc"
    for junk, reason in (
        (b"<xml><Encrypt>", "not well-formed"),
        (b"{", "not valid JSON"),
        (b"<xml><ToUserName>x</ToUserName></xml>", "no Encrypt"),
        (b"[1]", "not well-formed"),
        (b"\xff\xfe", "not UTF-8"),
    ):
        with pytest.raises(InputError, match=reason):
            ciphertext(junk)
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<xml><Encrypt>&b;</Encrypt></xml>"
    )
    with pytest.raises(InputError, match="DTD"):
        xml_fields(bomb, "callback body")
