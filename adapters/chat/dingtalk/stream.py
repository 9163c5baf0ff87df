"""Stream mode: stay connected to DingTalk's gateway with the dingtalk-stream SDK until cancelled.

The SDK's `DingTalkStreamClient` does the protocol: ``open_connection()`` asks the gateway
(``POST /v1.0/gateway/connections/open`` with the app's credentials and the topics Tocsin
handles) for an endpoint and a one-time ticket, and ``route_message()`` hands each frame to the
handler of its topic and sends the acknowledgement (answering the gateway's ``ping`` too).

Its own ``start()`` loop is not used: it calls the blocking ``requests.post`` on the event loop,
swallows cancellation, sleeps a fixed 10 s between attempts and never notices a silent connection.
This runner keeps the connection instead:

- ``open_connection()`` runs on its own daemon thread (at most one at a time), bridged back with
  ``call_soon_threadsafe`` and bounded by ``open_timeout``: the core loop never stalls;
- frames are read and routed on the core loop (the handlers translate, store the request in
  the core's inbox and start work; the acknowledgement leaves once it is stored);
- a watchdog pings every ``ping_interval``; no pong within ``liveness_timeout`` means a dead
  connection (DingTalk's have been seen to go silent after a ``disconnect`` or a laptop sleep),
  which is closed and replaced;
- after a failure or a drop it reconnects with a back-off that doubles from ``reconnect_min`` to
  ``reconnect_max`` (with jitter), starting again from the bottom once a connection has lived a
  minute; a ``disconnect`` from the gateway means "move now": a new connection without waiting.

`connected` is True from the WebSocket handshake until the connection drops, is found dead, or
the runner stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import structlog
from dingtalk_stream import AckMessage, Credential, DingTalkStreamClient  # type: ignore[import-untyped]
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from adapters.edge.backoff import Backoff

log = structlog.get_logger(__name__)
SDK_LOGGER = logging.getLogger("adapters.chat.dingtalk.sdk")

MAX_FRAME = 4 * 1024 * 1024
_OPEN_LOCK = threading.Lock()
"""``open_connection`` reads the class attribute ``OPEN_CONNECTION_API``: one opener at a time."""


class StreamClient(DingTalkStreamClient):  # type: ignore[misc]
    """The SDK's client, reporting the configured local address instead of probing for one."""

    def __init__(self, client_id: str, client_secret: str, *, local_ip: str | None) -> None:
        super().__init__(Credential(client_id, client_secret), logger=SDK_LOGGER)
        self.local_ip = local_ip

    def get_host_ip(self) -> str:
        return self.local_ip if self.local_ip else str(super().get_host_ip())


class StreamError(Exception):
    """The gateway gave no usable endpoint."""


class StreamRunner:
    def __init__(
        self,
        client: StreamClient,
        *,
        open_url: str,
        open_timeout: timedelta,
        ping_interval: timedelta,
        liveness_timeout: timedelta,
        reconnect_min: timedelta,
        reconnect_max: timedelta,
    ) -> None:
        self.client, self.open_url = client, open_url
        self.open_timeout = max(open_timeout.total_seconds(), 0.1)
        self.ping_interval = max(ping_interval.total_seconds(), 0.05)
        self.liveness_timeout = max(liveness_timeout.total_seconds(), 0.05)
        self.backoff = Backoff(reconnect_min.total_seconds(), reconnect_max.total_seconds())
        self.connected = False
        """Whether the WebSocket is up and answering right now."""
        self.connections = 0
        """Connections made so far."""
        self.dead = 0
        """Connections the watchdog found silent and replaced."""
        self._opening: asyncio.Future[dict[str, Any]] | None = None

    async def run(self) -> None:
        """Connect, stay connected, reconnect with back-off; until cancelled."""
        try:
            while True:
                try:
                    ws = await self._connect()
                except Exception as exc:  # whatever it was, try again later: never give up
                    delay = self.backoff.next()
                    log.warning("dingtalk stream: cannot connect", error=repr(exc), retry_in=delay)
                    await asyncio.sleep(delay)
                    continue
                self.connections += 1
                self.connected = True
                log.info("dingtalk stream: connected", connections=self.connections)
                started = time.monotonic()
                try:
                    ending = await self._serve(ws)
                except Exception as exc:
                    log.exception("dingtalk stream: the connection failed", error=repr(exc))
                    ending = "failed"
                finally:
                    self.connected = False
                    await ws.close()
                if ending == "disconnect":
                    log.info("dingtalk stream: the gateway asked to reconnect")
                    continue
                delay = self.backoff.after(time.monotonic() - started)
                log.warning("dingtalk stream: connection lost", why=ending, reconnect_in=delay)
                await asyncio.sleep(delay)
        finally:
            self.connected = False

    # -- connecting ---------------------------------------------------------------------------

    async def _connect(self) -> ClientConnection:
        endpoint = await asyncio.wait_for(asyncio.shield(self._open()), self.open_timeout)
        url, ticket = endpoint.get("endpoint"), endpoint.get("ticket")
        if not isinstance(url, str) or not url or not isinstance(ticket, str) or not ticket:
            raise StreamError(f"the gateway answered no endpoint and ticket: {sorted(endpoint)}")
        return await connect(
            f"{url}?ticket={quote_plus(ticket)}",
            open_timeout=self.open_timeout,
            ping_interval=None,  # the watchdog pings
            close_timeout=1,
            max_size=MAX_FRAME,
        )

    def _open(self) -> asyncio.Future[dict[str, Any]]:
        """The gateway's answer, asked on a thread; an unfinished request is waited for again
        rather than doubled."""
        if self._opening is not None and not self._opening.done():
            return self._opening
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        future.add_done_callback(_retrieve)  # a late failure nobody awaits is not an error
        self._opening = future

        def work() -> None:
            try:
                with _OPEN_LOCK:
                    DingTalkStreamClient.OPEN_CONNECTION_API = self.open_url
                    answer = self.client.open_connection()
                outcome: dict[str, Any] | Exception = (
                    answer if isinstance(answer, dict) else StreamError("the gateway refused")
                )
            except Exception as exc:
                outcome = exc
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                loop.call_soon_threadsafe(_settle, future, outcome)

        threading.Thread(target=work, name="dingtalk-stream-open", daemon=True).start()
        return future

    # -- one connection -----------------------------------------------------------------------

    async def _serve(self, ws: ClientConnection) -> str:
        """Read and route frames while the watchdog checks the connection; why it ended."""
        reader = asyncio.create_task(self._read(ws), name="dingtalk-stream-read")
        watchdog = asyncio.create_task(self._watch(ws), name="dingtalk-stream-watchdog")
        try:
            done, _ = await asyncio.wait({reader, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            return next(iter(done)).result()
        finally:
            for task in (reader, watchdog):
                task.cancel()
            await asyncio.gather(reader, watchdog, return_exceptions=True)

    async def _read(self, ws: ClientConnection) -> str:
        self.client.websocket = ws
        try:
            async for raw in ws:
                if await self._route(ws, raw) == DingTalkStreamClient.TAG_DISCONNECT:
                    return "disconnect"
        except ConnectionClosed:
            pass
        return "closed"

    async def _route(self, ws: ClientConnection, raw: str | bytes) -> str:
        """One frame through the SDK (handler, acknowledgement); a frame the SDK cannot read
        gets a 400 acknowledgement when it names its message id."""
        try:
            frame = json.loads(raw)
            if not isinstance(frame, dict):
                raise TypeError("a frame must be a JSON object")
            return str(await self.client.route_message(frame) or "")
        except ConnectionClosed:
            raise
        except Exception as exc:
            log.warning("dingtalk stream: unreadable frame", error=repr(exc))
            await _refuse(ws, raw, exc)
            return ""

    async def _watch(self, ws: ClientConnection) -> str:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                pong = await ws.ping()
                await asyncio.wait_for(pong, self.liveness_timeout)
            except TimeoutError:
                self.dead += 1
                self.connected = False
                log.warning("dingtalk stream: no answer to a ping; replacing the connection")
                return "dead"
            except ConnectionClosed:
                return "closed"


def _settle(future: asyncio.Future[dict[str, Any]], outcome: dict[str, Any] | Exception) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _retrieve(future: asyncio.Future[dict[str, Any]]) -> None:
    if not future.cancelled():
        future.exception()


async def _refuse(ws: ClientConnection, raw: str | bytes, exc: Exception) -> None:
    try:
        frame = json.loads(raw)
        message_id = frame["headers"]["messageId"]
    except (ValueError, TypeError, KeyError):
        return
    ack = AckMessage()
    ack.code = AckMessage.STATUS_BAD_REQUEST
    ack.headers.message_id = message_id
    ack.headers.content_type = "application/json"
    ack.message = f"unreadable frame: {type(exc).__name__}"
    await ws.send(json.dumps(ack.to_dict()))
