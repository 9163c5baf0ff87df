"""The long connection: lark-oapi's `lark.ws.Client` on a thread and event loop of its own.

lark-oapi's WebSocket client binds a module-level event loop when it is imported
(``lark_oapi.ws.client.loop``), schedules everything on it, and `start()` blocks forever: run on
the core's loop it fails with "This event loop is already running" (larksuite/oapi-sdk-python
issues #96, #119, #133). So the client lives on its own thread with a fresh loop, put in place of
the module's for as long as the thread runs (one long connection per process), and its event
callbacks bridge to the core loop (`Inbox`).

The client acknowledges an event by answering its frame: ``ws.Client._handle_data_frame`` calls
the dispatcher on the client's loop, synchronously, and answers code 200 when the callback
returns, code 500 when it raises (it catches and logs every exception). So `Inbox`'s callbacks
return only once the event is stored in the core's inbox, and raise `NotStored` when it cannot
be: Feishu re-pushes an event that is not handled "within 3 seconds and without raising" (its
long-connection guide). Meanwhile the client's loop is blocked (it was already while a press
waited for its answer), which is why every callback is bounded by ``answer_within``.

The client discovers its WebSocket URL at ``{domain}/callback/ws/endpoint`` and reconnects by
itself, at the pace the server configures. When `start()` gives up (a wrong App Secret, say) the
runner starts it again after ``restart_delay``. Stopping stops the thread's loop, cancels the
client's tasks, closes the WebSocket properly, and joins the thread: lark-oapi has no stop of its
own, so this reads the client's private ``_conn`` (the one thing it keeps no public handle to).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import lark_oapi as lark  # type: ignore[import-untyped]
import lark_oapi.ws.client as sdk_ws  # type: ignore[import-untyped]
import structlog

log = structlog.get_logger(__name__)

ONE_PER_PROCESS = threading.Lock()
"""lark-oapi keeps one event loop per process for its WebSocket clients."""
JOIN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0


class LongConnection:
    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        domain: str,
        dispatcher: Callable[[], Any],
        restart_delay: timedelta,
    ) -> None:
        self.app_id, self._secret, self.domain = app_id, app_secret, domain
        self.dispatcher = dispatcher
        """Makes lark-oapi's event dispatcher (called on the connection's thread)."""
        self.restart_delay = restart_delay.total_seconds()
        self.starts = 0
        """How many times the client was started (for health reporting and tests)."""
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = threading.Event()
        self._guard = threading.Lock()
        self._in_client = False
        """True while `start()` runs the thread's loop (read and written on that thread only)."""

    @property
    def connected(self) -> bool:
        """Whether the WebSocket is up right now."""
        client = self._client
        return client is not None and getattr(client, "_conn", None) is not None

    async def run(self) -> None:
        """Keep the connection until cancelled."""
        self._stopping.clear()
        thread = threading.Thread(target=self._main, name="feishu-long-connection", daemon=True)
        thread.start()
        try:
            await asyncio.Event().wait()
        finally:
            self._stop()
            await asyncio.to_thread(thread.join, JOIN_TIMEOUT)
            if thread.is_alive():
                log.warning("feishu long connection: the thread did not stop in time")

    def _stop(self) -> None:
        self._stopping.set()
        with self._guard:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._halt, loop)

    def _halt(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the connection's thread: stop the client's `start()`, never a clean-up step."""
        if self._in_client:
            loop.stop()

    # -- on the connection's thread ---------------------------------------------------------

    def _main(self) -> None:
        waited = False
        while not ONE_PER_PROCESS.acquire(timeout=0.5):
            if self._stopping.is_set():
                return
            if not waited:
                log.error("feishu long connection: another one runs in this process; waiting")
                waited = True
        try:
            self._serve()
        except Exception:
            log.exception("feishu long connection: the thread failed")
        finally:
            ONE_PER_PROCESS.release()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        saved = sdk_ws.loop
        sdk_ws.loop = loop
        with self._guard:
            self._loop = loop
        try:
            while not self._stopping.is_set():
                self._run_client(loop)
                if self._stopping.wait(self.restart_delay):
                    break
        finally:
            with self._guard:
                self._loop = None
            sdk_ws.loop = saved
            _run(loop, loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()

    def _run_client(self, loop: asyncio.AbstractEventLoop) -> None:
        client = lark.ws.Client(
            self.app_id,
            self._secret,
            event_handler=self.dispatcher(),
            domain=self.domain,
            auto_reconnect=True,
            log_level=lark.LogLevel.WARNING,
        )
        self._client = client
        self.starts += 1
        self._in_client = True
        try:
            client.start()  # returns only by raising: stopped, or a failure it gave up on
        except RuntimeError:
            if not self._stopping.is_set():
                log.exception("feishu long connection: the client stopped")
        except Exception as exc:
            log.error("feishu long connection: cannot connect", error=str(exc))
        finally:
            self._in_client = False
            self._client = None
            _close(loop, client)
        if not self._stopping.is_set():
            log.warning("feishu long connection: starting again", after=self.restart_delay)


def _close(loop: asyncio.AbstractEventLoop, client: Any) -> None:
    """Cancel the client's tasks (its receive loop would reconnect), then close its socket."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    _run(loop, asyncio.gather(*tasks, return_exceptions=True))
    conn = getattr(client, "_conn", None)
    if conn is not None:
        _run(loop, asyncio.wait_for(conn.close(), CLOSE_TIMEOUT))


def _run(
    loop: asyncio.AbstractEventLoop, job: Coroutine[Any, Any, Any] | asyncio.Future[Any]
) -> None:
    try:
        loop.run_until_complete(job)
    except Exception as exc:  # a close that fails leaves nothing to do but go on
        log.info("feishu long connection: clean-up step failed", error=repr(exc))
