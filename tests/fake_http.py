"""What every fake platform server shares: an aiohttp app on a free 127.0.0.1 port, and calls a
test can hold back until it releases them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(kw_only=True)
class FakeHttpServer:
    held: dict[str, asyncio.Event] = field(default_factory=dict)
    port: int = 0
    _runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        """Add the platform's endpoints to `app`."""
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        for event in self.held.values():  # nothing stays stuck behind a hold
            event.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def hold(self, key: str) -> asyncio.Event:
        """Calls to `key` wait until the returned event is set."""
        self.held[key] = asyncio.Event()
        return self.held[key]
