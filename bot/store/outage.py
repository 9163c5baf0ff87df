"""Database outages: which errors mean "the database is unavailable", and this process's view
of the outage they belong to.

An outage costs two log lines however long it lasts: a warning when the first call fails (the
error's one-line reason, no traceback), and an info line when a database call next succeeds
(how long it lasted, how many requests were refused and engine passes skipped meanwhile).
Whoever refuses a request or skips a pass because of it reports that here instead of logging.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.errors import DatabaseUnavailable

log = structlog.get_logger(__name__)

# PostgreSQL SQLSTATEs of a server that cannot take work: class 08 (connection exception),
# too_many_connections, admin / crash shutdown, cannot connect now (starting or recovering).
_SQLSTATES = frozenset({"53300", "57P01", "57P02", "57P03"})
_SQLSTATE_CLASSES = ("08",)
# Driver errors that say the same without a SQLSTATE.
_DRIVER_ERRORS = frozenset(
    {
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "CannotConnectNowError",
        "TooManyConnectionsError",
        "AdminShutdownError",
        "CrashShutdownError",
    }
)
# SQLite's ways of saying the file cannot be reached (its other operational errors, such as a
# missing table, are not outages).
_SQLITE_MESSAGES = ("unable to open database file", "disk i/o error")
# Where a raw OS error or timeout must have come from to count: the database layer.
_DRIVERS = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3", "psycopg")

RETRY_MIN, RETRY_MAX = 5, 30
"""Seconds a refused sender is asked to wait: the minimum at first, growing with the outage."""


def classify(exc: BaseException) -> DatabaseUnavailable | None:
    """`exc` as a `DatabaseUnavailable` when it means the database cannot be reached (down,
    refusing, restarting, out of connections, its file gone), else None."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    if any(_unavailable(error) for error in _chain(exc)):
        return DatabaseUnavailable(reason(exc))
    return None


def reason(exc: BaseException) -> str:
    """One line naming the cause: the driver's own error where SQLAlchemy wraps one."""
    cause = next((e for e in _chain(exc) if not type(e).__module__.startswith("sqlalchemy")), exc)
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__


def _unavailable(error: BaseException) -> bool:
    if isinstance(error, DatabaseUnavailable | PoolTimeout):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if _is_sqlite(error) or (isinstance(error, DBAPIError) and _is_sqlite(error.orig)):
        return any(m in str(error).lower() for m in _SQLITE_MESSAGES)
    if isinstance(error, OperationalError | InterfaceError):
        return True
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(state, str) and (state in _SQLSTATES or state.startswith(_SQLSTATE_CLASSES)):
        return True
    if type(error).__name__ in _DRIVER_ERRORS:
        return True
    # connection refused or reset, a socket gone, a timeout: only when the driver raised it
    return isinstance(error, OSError) and _from_driver(error)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, what it wraps (`orig`) and what it was raised from or during, without cycles."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop(0)
        if error is None or id(error) in seen or len(seen) >= 16:
            continue
        seen.add(id(error))
        yield error
        orig = getattr(error, "orig", None)
        pending += [orig if isinstance(orig, BaseException) else None]
        pending += [error.__cause__, error.__context__]


def _is_sqlite(error: BaseException | None) -> bool:
    return error is not None and type(error).__module__.split(".")[0] in ("sqlite3", "aiosqlite")


def _from_driver(error: BaseException) -> bool:
    tb = error.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_DRIVERS):
            return True
        tb = tb.tb_next
    return False


class Outage:
    """This process's view of database availability. `clock` is monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.since: float | None = None
        """When the running outage began; None while the database answers."""
        self.refused_requests = 0
        self.skipped_passes = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, error: DatabaseUnavailable, *, what: str) -> None:
        """A database call failed with `error` while doing `what`. Only the first failure of
        an outage is logged."""
        if self.since is not None:
            return
        self.since = self.clock()
        self.refused_requests = self.skipped_passes = 0
        log.warning("database unavailable", reason=str(error), first_failure=what)

    def refused(self, error: DatabaseUnavailable, *, what: str) -> int:
        """A request was refused because of `error`; returns its `Retry-After` in seconds."""
        self.failed(error, what=what)
        self.refused_requests += 1
        return self.retry_after()

    def skipped(self, error: DatabaseUnavailable, *, what: str) -> None:
        """A background pass (`what`) was skipped because of `error`; it runs again later."""
        self.failed(error, what=what)
        self.skipped_passes += 1

    def succeeded(self) -> None:
        """A database call succeeded: an outage in progress is over."""
        if self.since is None:
            return
        seconds = self.clock() - self.since
        self.since = None
        log.info(
            "database available again",
            outage_seconds=round(seconds, 1),
            requests_refused=self.refused_requests,
            passes_skipped=self.skipped_passes,
        )

    def retry_after(self) -> int:
        """How long a refused sender should wait: RETRY_MIN at first, then half the outage's
        length so far, at most RETRY_MAX."""
        elapsed = 0.0 if self.since is None else self.clock() - self.since
        return int(min(RETRY_MAX, max(RETRY_MIN, elapsed / 2)))

    def watch(self, engine: Engine) -> None:
        """Count every statement `engine` runs to completion as a success."""
        event.listen(engine, "after_cursor_execute", self._executed)

    def _executed(self, *_args: Any) -> None:
        if self.since is not None:
            self.succeeded()
