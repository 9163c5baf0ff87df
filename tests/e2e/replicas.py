"""Several `tocsin run` replicas on one PostgreSQL database, and counting fakes of the providers
they send to, for the multi-process tests.

The fakes are threaded HTTP servers on 127.0.0.1 (each request on its own thread, so a slow
answer holds back nothing else) that record every message with the time it arrived, and answer
as the platform does when its limit is passed.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import asyncpg
import yaml

from tests.e2e.conftest import REPO_ROOT, ManagedProcess, ProcessManager
from tests.support import postgres_database

WEBHOOK_TOKEN = "replicas-webhook-token-0123456789"
SECRET_KEY = "replicas-secret-key-0123456789abcdef"


def max_per_window(times: list[float], window: float = 60.0) -> int:
    """The most events in any `window` seconds."""
    ordered, best, lo = sorted(times), 0, 0
    for hi, at in enumerate(ordered):
        while at - ordered[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# -- fakes ------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        status, answer, *extra = self.fake.answer(self.path, dict(self.headers), body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        for name, value in (extra[0] if extra else {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 calling `answer` for each POST."""

    def __init__(self) -> None:
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
        """(status, JSON body) or (status, JSON body, extra headers)."""
        raise NotImplementedError


class FakeGroupRobot(FakeServer):
    """A WeCom group robot's webhook: at most `limit` messages in any rolling minute, as WeCom
    enforces it; the message over the limit is refused with errcode 45009 and not shown."""

    def __init__(self, key: str, limit: int = 20) -> None:
        super().__init__()
        self.key, self.limit = key, limit
        self.shown: list[tuple[float, str]] = []
        self.refused: list[float] = []

    @property
    def webhook(self) -> str:
        return f"{self.url}/cgi-bin/webhook/send?key={self.key}"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
        url = urlsplit(path)
        if url.path != "/cgi-bin/webhook/send" or parse_qs(url.query).get("key") != [self.key]:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
        message = json.loads(body)
        now = time.monotonic()
        with self.lock:
            recent = [at for at, _ in self.shown if now - at < 60.0]
            if len(recent) >= self.limit:
                self.refused.append(now)
                return 200, {"errcode": 45009, "errmsg": "api freq out of limit"}
            kind = message.get("msgtype", "")
            self.shown.append((now, json.dumps(message.get(kind, message), ensure_ascii=False)))
        return 200, {"errcode": 0, "errmsg": "ok"}


@dataclass
class Sms:
    at: float
    to: str
    body: str


class FakeTwilio(FakeServer):
    """Twilio's Messages resource, answering after `delay(to)` seconds (the message counts as
    delivered when it arrives, as with a provider whose answer is slow, not its network)."""

    def __init__(self, sid: str, delay: Callable[[str], float]) -> None:
        super().__init__()
        self.sid, self.delay = sid, delay
        self.messages: list[Sms] = []

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
        if path != f"/2010-04-01/Accounts/{self.sid}/Messages.json":
            return 404, {"code": 20404, "message": "not found"}
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        with self.lock:
            self.messages.append(Sms(time.monotonic(), form["To"], form["Body"]))
            n = len(self.messages)
        time.sleep(self.delay(form["To"]))
        return 201, {"sid": f"SM{n:032d}", "status": "queued"}


# -- the database ------------------------------------------------------------------------------


class Postgres:
    """A fresh PostgreSQL database for one test, and plain SQL against it, from synchronous
    test code (its own event loop)."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()
        self._made = postgres_database()
        self.url = self.runner.run(self._made.__aenter__())
        self.dsn = self.url.replace("postgresql+asyncpg://", "postgresql://")
        self.held: asyncpg.Connection | None = None

    def fetch(self, query: str, *args: Any) -> list[Any]:
        async def go() -> list[Any]:
            conn = await asyncpg.connect(self.dsn)
            try:
                return list(await conn.fetch(query, *args))
            finally:
                await conn.close()

        return self.runner.run(go())

    def value(self, query: str, *args: Any) -> Any:
        rows = self.fetch(query, *args)
        return rows[0][0] if rows else None

    def hold(self, query: str, *args: Any) -> None:
        """Run `query` (e.g. ``SELECT … FOR UPDATE``) in a transaction left open until
        `release`, holding its locks."""

        async def go() -> asyncpg.Connection:
            conn = await asyncpg.connect(self.dsn)
            await conn.execute("BEGIN")
            await conn.execute(query, *args)
            return conn

        self.held = self.runner.run(go())

    def release(self) -> None:
        if self.held is not None:
            held, self.held = self.held, None
            self.runner.run(held.close())

    def close(self) -> None:
        self.release()
        self.runner.run(self._made.__aexit__(None, None, None))
        self.runner.close()


@contextmanager
def postgres() -> Iterator[Postgres]:
    made = Postgres()
    try:
        yield made
    finally:
        made.close()


# -- the replicas ------------------------------------------------------------------------------


@dataclass
class Replica:
    name: str
    process: ManagedProcess
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@dataclass
class Replicas:
    """`tocsin run` processes on one database, each with the same configuration but its port."""

    processes: ProcessManager
    free_port: Callable[[], int]
    workdir: Path
    config: dict[str, Any]
    started: list[Replica] = field(default_factory=list)

    def start(self, name: str) -> Replica:
        port = self.free_port()
        config = json.loads(json.dumps(self.config))
        config["server"] = {"host": "127.0.0.1", "port": port, **config.get("server", {})}
        config["tocsin"] = {
            "log_format": "json",
            "secret_key": SECRET_KEY,
            "public_url": f"http://127.0.0.1:{port}",
            **config.get("tocsin", {}),
        }
        path = self.workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        process = self.processes.start(
            name,
            [sys.executable, "-m", "bot.cli", "run", "--config", str(path)],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        process.wait_http(f"http://127.0.0.1:{port}/readyz")
        replica = Replica(name, process, port)
        self.started.append(replica)
        return replica

    def start_many(self, count: int) -> list[Replica]:
        """`count` replicas; the first migrates the database before the others start."""
        return [self.start(f"tocsin-{n}") for n in range(1, count + 1)]


def base_config(database_url: str) -> dict[str, Any]:
    return {
        "tocsin": {"language": "en"},
        "database": {"url": database_url, "auto_migrate": True, "pool_size": 4},
        "sources": [
            {"name": "am", "kind": "alertmanager", "auth": {"bearer_token": WEBHOOK_TOKEN}},
        ],
        "console": {"enabled": False},
    }


def alertmanager(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """An Alertmanager webhook carrying `alerts` (each: labels, a fingerprint, and optional
    annotations), as one group of its own."""
    return {
        "version": "4",
        "groupKey": "{}:{fingerprint=" + json.dumps(alerts[0]["fingerprint"]) + "}",
        "status": "firing",
        "receiver": "tocsin",
        "alerts": [
            {
                "status": "firing",
                "labels": a["labels"],
                "annotations": a.get("annotations", {"summary": "something is wrong"}),
                "startsAt": "2026-12-06T02:59:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": a["fingerprint"],
            }
            for a in alerts
        ],
    }


@dataclass
class SlackCall:
    at: float
    method: str
    params: dict[str, Any]
    ts: str = ""
    """The message's ``ts`` (as answered, for a new message)."""


class FakeSlackApi(FakeServer):
    """The Slack Web API methods Tocsin calls, checking the bot token; messages get a ``ts``.
    With `rate`, ``chat.postMessage`` keeps Slack's limit per channel (a token bucket of `rate`
    a second and `burst`) and answers HTTP 429 with Retry-After beyond it, as Slack does."""

    def __init__(self, token: str, rate: float | None = None, burst: int = 3) -> None:
        super().__init__()
        self.token, self.rate, self.burst = token, rate, burst
        self.calls: list[SlackCall] = []
        self.limited: list[SlackCall] = []
        self._buckets: dict[str, tuple[float, float]] = {}

    def _wait(self, channel: str, now: float) -> float:
        """0 when a message may go now (and takes its token), else seconds until one may."""
        if self.rate is None:
            return 0.0
        tokens, last = self._buckets.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[channel] = (tokens - 1.0, now)
            return 0.0
        self._buckets[channel] = (tokens, now)
        return (1.0 - tokens) / self.rate

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
        method = urlsplit(path).path.rsplit("/", 1)[-1]
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("authorization", "") != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}
        if lowered.get("content-type", "").startswith("application/json"):
            params = json.loads(body or b"{}")
        else:
            params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if isinstance(params.get("blocks"), str):
            params["blocks"] = json.loads(params["blocks"])
        with self.lock:
            now = time.monotonic()
            n = len(self.calls) + len(self.limited) + 1
            ts = str(params.get("ts") or f"1767225600.{n:06d}")
            call = SlackCall(now, method, params, ts)
            wait = (
                self._wait(str(params.get("channel")), now) if method == "chat.postMessage" else 0
            )
            if wait > 0:
                self.limited.append(call)
                retry = {"Retry-After": str(max(1, math.ceil(wait)))}
                return 429, {"ok": False, "error": "ratelimited"}, retry
            self.calls.append(call)
        if method == "auth.test":
            return 200, {"ok": True, "team_id": "T0TEAM", "user_id": "U0TOCSIN", "bot_id": "B0"}
        if method == "users.info":
            user = params.get("user", "")
            return 200, {"ok": True, "user": {"id": user, "name": user, "profile": {}}}
        if method == "conversations.open":
            return 200, {"ok": True, "channel": {"id": "D0" + str(params.get("users", ""))}}
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            return 200, {"ok": True, "channel": params.get("channel"), "ts": ts}
        return 200, {"ok": False, "error": "unknown_method", "method": method}

    def posted(self, method: str = "chat.postMessage", channel: str = "") -> list[SlackCall]:
        with self.lock:
            return [
                call
                for call in self.calls
                if call.method == method and (not channel or call.params.get("channel") == channel)
            ]
