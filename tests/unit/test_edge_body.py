"""The bounded body reader every inbound route shares: a body within the limit is read whole;
one over it is refused with 413, unread when it declares its length, and otherwise without
reading past the chunk that crossed the limit."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.types import Message

from bot.errors import PayloadTooLarge
from bot.web.body import read_body


class Sender:
    """An ASGI client sending `chunks`, counting what the server has asked for."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks, self.sent = chunks, 0

    async def receive(self) -> Message:
        chunk = self.chunks[self.sent]
        self.sent += 1
        return {"type": "http.request", "body": chunk, "more_body": self.sent < len(self.chunks)}


def request(sender: Sender, declared: int | None = None) -> Request:
    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    return Request({"type": "http", "method": "POST", "headers": headers}, sender.receive)


async def test_a_body_within_the_limit_is_read_whole() -> None:
    sender = Sender([b"ab", b"cd", b"e"])
    assert await read_body(request(sender), 5) == b"abcde"
    assert sender.sent == 3


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    sender = Sender([b"x" * 10])
    with pytest.raises(PayloadTooLarge) as refused:
        await read_body(request(sender, declared=10), 9)
    assert refused.value.status_code == 413
    assert sender.sent == 0


async def test_an_undeclared_body_stops_at_the_chunk_that_crosses_the_limit() -> None:
    sender = Sender([b"aaaa", b"bbbb", b"cccc", b"dddd"])
    with pytest.raises(PayloadTooLarge):
        await read_body(request(sender), 6)
    assert sender.sent == 2, "nothing past the chunk that crossed the limit is read"


async def test_a_body_longer_than_it_declared_is_refused_too() -> None:
    sender = Sender([b"aaaa", b"bbbb", b"cccc"])
    with pytest.raises(PayloadTooLarge):
        await read_body(request(sender, declared=4), 8)
    assert sender.sent == 3


async def test_exactly_the_limit_is_allowed() -> None:
    assert await read_body(request(Sender([b"x" * 8]), declared=8), 8) == b"x" * 8
