"""Taking over requests whose replica did not finish them (see `bot.inbox`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog

from bot.inbox.codec import Request, decode
from bot.inbox.store import MAX_ATTEMPTS, Entry, Inbox

log = structlog.get_logger(__name__)

Resume = Callable[[Request, dict[str, Any]], Awaitable[None]]
"""An adapter's way to handle a taken-over request and answer it through the stored route. It
should hand the work to its own background tasks and return: the resumer runs in the engine."""


class Handler(Protocol):
    async def handle(self, request: Request) -> Any: ...

    async def abandoned(self, request: Request, attempts: int) -> None: ...


class Resumer:
    def __init__(self, inbox: Inbox, handler: Handler) -> None:
        self.inbox, self.handler = inbox, handler
        self._adapters: dict[str, Resume] = {}

    def on_resume(self, platform: str, resume: Resume) -> None:
        """Let the adapter of `platform` take over its requests on this replica."""
        self._adapters[platform] = resume

    async def run(self) -> int:
        """Take over the requests whose lease has ended; how many were taken."""
        entries = await self.inbox.claim()
        for entry in entries:
            try:
                await self._resume(entry)
            except Exception:  # the next attempt comes with the next lease; the others go on
                log.exception("inbox: taking over a request failed", id=entry.id)
        return len(entries)

    async def _resume(self, entry: Entry) -> None:
        try:
            request = decode(entry.kind, entry.request)
        except ValueError as exc:
            log.error("inbox: a stored request cannot be read", id=entry.id, error=str(exc))
            await self.inbox.give_up(entry)
            return
        if entry.attempts > MAX_ATTEMPTS:
            log.error(
                "inbox: request given up",
                platform=entry.platform,
                event_id=request.event_id,
                attempts=entry.attempts - 1,
            )
            await self.handler.abandoned(request, entry.attempts - 1)
            await self.inbox.give_up(entry)
            return
        log.warning(
            "inbox: taking over a request another process did not finish",
            platform=entry.platform,
            event_id=request.event_id,
            attempt=entry.attempts,
        )
        adapter = self._adapters.get(entry.platform)
        if adapter is not None:
            await adapter(request, entry.route)
        else:  # no adapter for it here: carry it out; its answer has nowhere to go
            await self.handler.handle(request)
