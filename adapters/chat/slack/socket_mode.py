"""Socket Mode: stay connected to Slack over slack_sdk's WebSocket client until cancelled.

The client asks ``apps.connections.open`` (on the configured ``api_url``) for a WebSocket URL with
the app-level token and connects. Each envelope is translated into Bolt's request, dispatched,
and acknowledged with its ``envelope_id`` once the dispatch has returned — that is, after the
listener stored the request in the inbox (`listeners`). An envelope whose dispatch failed (Bolt
answers 500 when a listener raises, e.g. because the request could not be stored) is *not*
acknowledged: Slack re-sends an unacknowledged event (``retry_attempt``), and for a press or a
slash command the person sees it fail and can try again; acknowledging would tell Slack that a
request nobody stored is taken. Every other answer (a 404 for an event Tocsin has no listener for)
is acknowledged, so Slack does not re-send it. Slack's ``disconnect`` envelope makes the client
move to a fresh URL by itself.

This runner keeps the connection: when the socket drops, or connecting fails, it reconnects after
a back-off that doubles from ``reconnect_min`` to ``reconnect_max`` (with jitter) and starts again
from the bottom once a connection has lived a minute. Cancelling `run` closes the socket and waits
for the client's tasks and the envelopes being handled, so nothing is left behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.socket_mode.websockets import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from adapters.edge.backoff import Backoff

log = structlog.get_logger(__name__)
SDK_LOGGER = logging.getLogger("adapters.chat.slack.socket_mode.sdk")


class SocketModeRunner:
    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        web: AsyncWebClient,
        *,
        ping_interval: timedelta,
        reconnect_min: timedelta,
        reconnect_max: timedelta,
    ) -> None:
        self.app, self.app_token, self.web = app, app_token, web
        self.ping_interval = max(ping_interval.total_seconds(), 0.1)
        self.backoff = Backoff(reconnect_min.total_seconds(), reconnect_max.total_seconds())
        self.connections = 0
        """Connections made so far (for health reporting and tests)."""
        self.connected = False
        """Whether the WebSocket is up right now."""
        self._handling: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        """Connect, stay connected, reconnect with back-off; until cancelled."""
        client = SocketModeClient(
            app_token=self.app_token,
            web_client=self.web,
            auto_reconnect_enabled=False,  # this loop reconnects, with back-off
            ping_interval=self.ping_interval,
            logger=SDK_LOGGER,
        )
        client.socket_mode_request_listeners.append(self._on_request)
        try:
            while True:
                try:
                    await client.connect_to_new_endpoint(force=True)
                except Exception as exc:
                    delay = self.backoff.next()
                    log.warning(
                        "slack socket mode: cannot connect", error=repr(exc), retry_in=delay
                    )
                    await asyncio.sleep(delay)
                    continue
                self.connections += 1
                self.connected = True
                log.info("slack socket mode: connected", connections=self.connections)
                started = time.monotonic()
                try:
                    await _until_dropped(client)
                finally:
                    self.connected = False
                delay = self.backoff.after(time.monotonic() - started)
                log.warning("slack socket mode: connection lost", reconnect_in=delay)
                await asyncio.sleep(delay)
        finally:
            await self._close(client)

    async def _on_request(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        """One envelope: dispatch it through Bolt, then acknowledge it unless that failed."""
        task = asyncio.current_task()
        if task is not None:
            self._handling.add(task)
        try:
            response = await self._dispatch(req)
            if response is None or response.status >= 500:
                log.warning("slack socket mode: envelope left for Slack to re-send", type=req.type)
                return
            payload = _ack_payload(response)
            await client.send_socket_mode_response(SocketModeResponse(req.envelope_id, payload))
        except Exception as exc:
            log.warning("slack socket mode: envelope failed", type=req.type, error=repr(exc))
        finally:
            if task is not None:
                self._handling.discard(task)

    async def _dispatch(self, req: SocketModeRequest) -> BoltResponse | None:
        headers: dict[str, str | Sequence[str]] = {}
        if req.retry_attempt is not None:
            headers["x-slack-retry-num"] = str(req.retry_attempt)
        if req.retry_reason is not None:
            headers["x-slack-retry-reason"] = req.retry_reason
        request = AsyncBoltRequest(body=req.payload, headers=headers or None, mode="socket_mode")
        try:
            return await self.app.async_dispatch(request)
        except Exception as exc:
            log.warning("slack socket mode: dispatch failed", type=req.type, error=repr(exc))
            return None

    async def _close(self, client: SocketModeClient) -> None:
        """Stop the client's loops first (so a closing socket is not reported as an error), then
        close the socket, then wait for every task the client and this runner started."""
        loops = [t for t in (client.current_session_monitor, client.message_receiver) if t]
        for task in loops:
            task.cancel()
        close: Callable[[], Awaitable[None]] = client.close  # untyped in slack_sdk
        try:
            await close()
        except Exception as exc:
            log.info("slack socket mode: closing the socket failed", error=repr(exc))
        tasks: list[asyncio.Future[Any]] = [client.message_processor, *loops, *self._handling]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _until_dropped(client: SocketModeClient) -> None:
    """Return when the current socket has closed and the client did not replace it."""
    while True:
        session = client.current_session
        if session is None:
            return
        await session.wait_closed()
        if client.current_session is session:
            return


def _ack_payload(response: BoltResponse | None) -> dict[str, Any] | None:
    """What Bolt answered, for an envelope that accepts a response payload (slash commands)."""
    if response is None or response.status != 200 or not response.body:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    if content_type.startswith("application/json"):
        body = json.loads(response.body)
        return body if isinstance(body, dict) else None
    return {"text": response.body}
