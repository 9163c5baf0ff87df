"""The connected browser tabs, per chat and user, and broadcasting events to them.

Each tab is a `Session` with its own bounded queue; the WebSocket code drains the queue, so a
broadcast never waits on a slow browser. A tab that falls `max_pending` events behind is dropped
(its queue ends with None) and its page reconnects and reloads the history. The hub lives in one
process and one event loop: with several Tocsin replicas a browser sees the messages posted
through its own replica live, and everything else on its next reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

Event = dict[str, Any]
"""A server-to-browser event such as ``{"type": "message", "message": {...}}``."""

GOING_AWAY = 1001
"""WebSocket close code for a session closed by the server (shutdown)."""
TOO_SLOW = 4409
"""WebSocket close code for a session that fell `max_pending` events behind."""


class Session:
    """One connected browser tab: its chat, the names its user goes by, and its outgoing queue."""

    def __init__(
        self, chat: str, user_id: str, aliases: Iterable[str] = (), *, max_pending: int = 1000
    ) -> None:
        self.chat = chat
        self.user_id = user_id
        self.names = frozenset({user_id, *aliases})
        self.closed = False
        self.close_code = GOING_AWAY
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(max_pending + 1)
        self._max_pending = max_pending

    def sees(self, private_to: str | None) -> bool:
        """Whether this tab may see a message meant for `private_to` (None: everyone)."""
        return private_to is None or private_to in self.names

    def send(self, event: Event) -> bool:
        """Queue `event`; False (and the session closed) if the browser fell too far behind."""
        if self.closed:
            return False
        if self._queue.qsize() >= self._max_pending:
            self.close(TOO_SLOW)
            return False
        self._queue.put_nowait(event)
        return True

    def close(self, code: int = GOING_AWAY) -> None:
        """End the session: pending events are dropped and `next_event` returns None."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def next_event(self) -> Event | None:
        """The next event to send, or None once the session is closed."""
        return await self._queue.get()

    def drain(self) -> list[Event]:
        """Remove and return the events queued so far, without waiting."""
        events: list[Event] = []
        while not self._queue.empty():
            event = self._queue.get_nowait()
            if event is not None:
                events.append(event)
        if self.closed:
            self._queue.put_nowait(None)
        return events


class ConsoleHub:
    """Tracks sessions per chat; `broadcast` queues an event for every tab allowed to see it."""

    def __init__(self, *, max_pending: int = 1000) -> None:
        self._max_pending = max_pending
        self._chats: dict[str, set[Session]] = {}

    def connect(self, chat: str, user_id: str, aliases: Iterable[str] = ()) -> Session:
        session = Session(chat, user_id, aliases, max_pending=self._max_pending)
        self._chats.setdefault(chat, set()).add(session)
        return session

    def disconnect(self, session: Session) -> None:
        sessions = self._chats.get(session.chat)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._chats[session.chat]
        session.close()

    def sessions(self, chat: str | None = None) -> list[Session]:
        """The open sessions of `chat`, or of every chat."""
        if chat is not None:
            return list(self._chats.get(chat, ()))
        return [session for sessions in self._chats.values() for session in sessions]

    def users(self, chat: str) -> set[str]:
        """The Tocsin user ids with at least one tab open on `chat`."""
        return {session.user_id for session in self._chats.get(chat, ())}

    def broadcast(self, chat: str, event: Event, private_to: str | None = None) -> int:
        """Queue `event` for the tabs of `chat` that may see it; returns how many got it."""
        delivered = 0
        for session in list(self._chats.get(chat, ())):
            if not session.sees(private_to):
                continue
            if session.send(event):
                delivered += 1
            else:
                self.disconnect(session)
        return delivered

    def close_all(self) -> None:
        """Close every session, e.g. on shutdown; their pages reconnect."""
        for session in self.sessions():
            self.disconnect(session)
