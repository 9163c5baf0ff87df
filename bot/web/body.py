"""Reading request bodies with a hard size limit (the Content-Length is not trusted).

The one bounded reader for inbound HTTP: the core's routes and the chat adapters' callback URLs
(which may import the core; the core never imports them) all read bodies through it, so a body
over the limit is refused the same way everywhere: `PayloadTooLarge` (413), before reading any
further than the chunk that crossed the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from starlette.requests import Request

from bot.errors import PayloadTooLarge


async def read_body(request: Request, limit: int, *, hint: str = "") -> bytes:
    """The body, at most `limit` bytes. A declared length over the limit is refused unread; a
    body that is longer than it declared (or declares nothing) is refused once it grows past.
    `hint` follows the refusal (which setting to raise, what to send instead)."""
    return await read_limited(
        request.stream(), request.headers.get("content-length"), limit, hint=hint
    )


async def read_limited(
    chunks: AsyncIterable[bytes], declared: str | None, limit: int, *, hint: str = ""
) -> bytes:
    """`read_body` for any stream of chunks (a raw ASGI `receive` included)."""
    over = f"is over the limit of {limit} bytes{hint}"
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes {over}")
    kept, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body {over}")
        kept.append(chunk)
    return b"".join(kept)
