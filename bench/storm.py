"""Storm benchmark: an alert storm through a real Tocsin to a rate-limited fake Slack.

Not a test: it prints figures (``bench/README.md``, "Storm benchmark", says how to read them).

One ``tocsin run`` (PostgreSQL, a fresh database ``bench_<random>``) with the Slack adapter in
HTTP (Events) mode, its Web API pointed at `FakeSlack` on 127.0.0.1: a counting fake that keeps
Slack's ``chat.postMessage`` limit (about one message per second per channel with a short burst)
by answering HTTP 429 with ``Retry-After``, and records every message (time, channel, text,
blocks). Two routes: ``team="storm"`` to channel C0STORM and ``team="other"`` to C0OTHER.

5,000 Alertmanager alerts of distinct groups (each opens its own incident), 500 of them P0, are
sent over 30 s to the storm route while one ``team="other"`` alert goes every 5 s; the run waits
(bounded) until every storm incident is visible in C0STORM, as its own card or counted in a
digest card ("Alert storm: N incidents …"). Then one more P0 goes to the storm route.

    .venv/bin/python bench/storm.py                  # storm_tiers: [P0, P1, P2, P3]
    .venv/bin/python bench/storm.py --no-p0-digest   # storm_tiers: [P1, P2, P3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import re
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # as a script, too

from bench.ingest_load import HOST, PATH
from bench.ingest_server import (
    Server,
    condense,
    database,
    free_port,
    postgres_available,
    write_config,
)

STORM, OTHER = "C0STORM", "C0OTHER"
BOT_TOKEN = "xoxb-" + secrets.token_hex(8)
WEBHOOK_TOKEN = secrets.token_urlsafe(24)
SERVICES = 50

_OWN = re.compile(r"^\[P\d\] ((?:Storm|Other|AfterStorm)\w*)")
_DIGEST = re.compile(r"Alert storm: (\d+) incidents")


# -- the fake Slack Web API ---------------------------------------------------------------------


@dataclass(slots=True)
class Message:
    at: float
    """`time.monotonic()` when the fake accepted it."""
    method: str
    """chat.postMessage or chat.update"""
    channel: str
    ts: str
    text: str
    blocks: list[Any]


@dataclass
class FakeSlack:
    """chat.postMessage at `rate` per second per channel with `burst`, else HTTP 429 with
    Retry-After (as Slack does); chat.update and the rest are not limited. Every accepted
    message is recorded; tokens are checked."""

    rate: float = 1.0
    burst: float = 3.0
    channels: frozenset[str] = frozenset({STORM, OTHER})
    messages: list[Message] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)
    """429s answered, per channel."""
    calls: dict[str, int] = field(default_factory=dict)
    port: int = 0
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _seq: int = 0
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/api/"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, 0).start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _take(self, channel: str, now: float) -> float:
        """0 when a message may go now (and takes it), else seconds until one may."""
        tokens, last = self._buckets.get(channel, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[channel] = (tokens - 1.0, now)
            return 0.0
        self._buckets[channel] = (tokens, now)
        return (1.0 - tokens) / self.rate

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls[method] = self.calls.get(method, 0) + 1
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            params.update(dict(await request.post()))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if token != BOT_TOKEN:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        channel = str(params.get("channel", ""))
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):  # form-encoded
            blocks = json.loads(blocks)
        now = time.monotonic()
        if method == "auth.test":
            return web.json_response(
                {"ok": True, "team_id": "T0BENCH", "user_id": "U0TOCSIN", "bot_id": "B0TOCSIN"}
            )
        if method == "chat.postMessage":
            if channel not in self.channels:
                return web.json_response({"ok": False, "error": "channel_not_found"})
            wait = self._take(channel, now)
            if wait > 0:
                self.rejected[channel] = self.rejected.get(channel, 0) + 1
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
            self._seq += 1
            ts = f"1767225600.{self._seq:06d}"
            text = str(params.get("text", ""))
            self.messages.append(Message(now, method, channel, ts, text, list(blocks)))
            return web.json_response({"ok": True, "channel": channel, "ts": ts})
        if method == "chat.update":
            ts = str(params.get("ts", ""))
            text = str(params.get("text", ""))
            self.messages.append(Message(now, method, channel, ts, text, list(blocks)))
            return web.json_response({"ok": True, "channel": channel, "ts": ts, "text": text})
        return web.json_response({"ok": False, "error": "unknown_method"})


# -- what the channel shows ---------------------------------------------------------------------


@dataclass
class View:
    """What C0STORM shows, replayed from the fake's messages up to some index."""

    own: dict[str, float] = field(default_factory=dict)
    """Incident name → when its own card was posted."""
    digests: dict[str, int] = field(default_factory=dict)
    """Digest message ts → the count its latest version shows."""
    names_in_digests: set[str] = field(default_factory=set)
    read: int = 0

    def advance(self, messages: list[Message], channel: str) -> None:
        for msg in messages[self.read :]:
            if msg.channel == channel:
                self.see(msg)
        self.read = len(messages)

    def see(self, msg: Message) -> None:
        digest = _DIGEST.search(msg.text)
        if digest:
            self.digests[msg.ts] = int(digest.group(1))
            self.names_in_digests.update(re.findall(r"AfterStorm\w*", json.dumps(msg.blocks)))
            return
        own = _OWN.match(msg.text)
        if own and msg.method == "chat.postMessage":
            self.own.setdefault(own.group(1), msg.at)

    @property
    def visible(self) -> int:
        return len(self.own) + sum(self.digests.values())


def max_per_minute(times: list[float]) -> int:
    """The most messages in any 60 s window."""
    best, lo = 0, 0
    for hi, at in enumerate(times):
        while at - times[lo] >= 60.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# -- the server ---------------------------------------------------------------------------------


def tocsin_config(port: int, database_url: str, slack: FakeSlack, tiers: list[str]) -> Any:
    return {
        "tocsin": {
            "secret_key": secrets.token_urlsafe(32),
            "log_format": "json",
            "language": "en",
            "public_url": f"http://{HOST}:{port}",
        },
        "server": {"host": HOST, "port": port, "workers": 1},
        "database": {"url": database_url, "auto_migrate": True},
        "sources": [
            {"name": "am", "kind": "alertmanager", "auth": {"bearer_token": WEBHOOK_TOKEN}}
        ],
        "routes": [
            {"name": "storm", "matchers": ['team="storm"'], "destinations": [f"slack:{STORM}"]},
            {"name": "other", "matchers": ['team="other"'], "destinations": [f"slack:{OTHER}"]},
        ],
        "console": {"enabled": False},
        "outbox": {"storm_tiers": tiers},
        "slack": {
            "mode": "http",
            "bot_token": BOT_TOKEN,
            "signing_secret": secrets.token_hex(16),
            "api_url": slack.base_url,
            "rate_per_second": 1.0,
            "burst": 3,
        },
    }


class StormServer(Server):
    def __init__(self, workdir: Path, database_url: str, config: dict[str, Any]) -> None:
        super().__init__(workdir, database_url)
        self.config = config

    def command(self) -> tuple[list[str], dict[str, str]]:
        path = self.workdir / "tocsin.yaml"
        self.config["server"]["port"] = self.port
        self.config["tocsin"]["public_url"] = f"http://{HOST}:{self.port}"
        write_config(path, self.config)
        return [sys.executable, "-m", "bot.cli", "run", "--config", str(path)], {}


# -- the load -----------------------------------------------------------------------------------


def payload(name: str, service: str, severity: str, team: str) -> bytes:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    labels = {
        "alertname": name,
        "service": service,
        "env": "prod",
        "severity": severity,
        "team": team,
        "instance": f"{service}:9100",
    }
    group_labels = {"alertname": name, "service": service}
    key = "{}:{" + f'alertname="{name}",service="{service}"' + "}"
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": now,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": f"http://{HOST}/graph",
        "fingerprint": secrets.token_hex(8),
    }
    body = {
        "version": "4",
        "groupKey": key,
        "status": "firing",
        "receiver": team,
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": f"http://{HOST}:9093",
        "alerts": [alert],
    }
    return json.dumps(body).encode()


@dataclass
class Sender:
    session: aiohttp.ClientSession
    url: str
    errors: list[str] = field(default_factory=list)
    sent: int = 0

    async def post(self, data: bytes) -> float:
        """POST `data`; the monotonic time it was sent."""
        at = time.monotonic()
        headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}
        try:
            async with self.session.post(self.url, data=data, headers=headers) as resp:
                body = await resp.read()
                if resp.status != 200:
                    self.errors.append(f"HTTP {resp.status}: {body[:200]!r}")
                else:
                    self.sent += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        return at


def storm_alerts(count: int, p0: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    critical = set(rng.sample(range(count), p0))
    out = []
    for i in range(count):
        severity = "critical" if i in critical else ("warning" if i % 2 else "info")
        out.append(payload(f"Storm{i:05d}", f"svc{i % SERVICES:02d}", severity, "storm"))
    return out


async def send_storm(sender: Sender, bodies: list[bytes], seconds: float) -> None:
    """`bodies` spread evenly over `seconds`, at most 16 requests in flight."""
    start = time.monotonic()
    gate = asyncio.Semaphore(16)

    async def one(data: bytes) -> None:
        async with gate:
            await sender.post(data)

    tasks = []
    for i, data in enumerate(bodies):
        due = start + seconds * i / len(bodies)
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(data)))
    await asyncio.gather(*tasks)


# -- one run ------------------------------------------------------------------------------------


@dataclass
class Result:
    mode: str
    storm_sent: float = 0.0
    all_visible: float | None = None
    visible_at_limit: int = 0
    own_cards: int = 0
    digests: int = 0
    other_latency: list[float] = field(default_factory=list)
    other_lost: int = 0
    after_p0: float | None = None
    after_p0_how: str = ""
    per_minute: dict[str, int] = field(default_factory=dict)
    posts: dict[str, int] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def run(args: argparse.Namespace) -> Result:
    tiers = ["P1", "P2", "P3"] if args.no_p0_digest else ["P0", "P1", "P2", "P3"]
    result = Result(mode=f"storm_tiers: [{', '.join(tiers)}]")
    slack = FakeSlack(rate=args.slack_rate, burst=args.slack_burst)
    await slack.start()
    workdir = Path(tempfile.mkdtemp(prefix="tocsin-storm-"))
    try:
        async with database("postgres", workdir) as url:
            config = tocsin_config(free_port(), url, slack, tiers)
            server = StormServer(workdir, url, config)
            print(f"[{result.mode}] starting tocsin (log {server.log}) ...", flush=True)
            await server.start()
            try:
                await measure(args, server, slack, result)
            finally:
                await server.stop()
                for problem in server.problems()[0][:5]:
                    result.problems.append(f"{problem.count}x {condense(problem.example)[:600]}")
    finally:
        await slack.close()
    return result


async def measure(
    args: argparse.Namespace, server: Server, slack: FakeSlack, result: Result
) -> None:
    url = f"http://{HOST}:{server.port}{PATH}"
    bodies = storm_alerts(args.alerts, args.p0, args.seed)
    # idle connections close before uvicorn's 5 s keep-alive timeout would close them under a
    # request (the side alerts go every 5 s)
    connector = aiohttp.TCPConnector(limit=32, keepalive_timeout=2.0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sender = Sender(session, url)
        other_sent: dict[str, float] = {}
        view = View()
        other_view = View()

        async def other_loop(stop: asyncio.Event) -> None:
            n = 0
            while not stop.is_set() and n < 1000:
                name = f"Other{n:03d}"
                other_sent[name] = await sender.post(payload(name, "side", "warning", "other"))
                n += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), args.other_every)

        start = time.monotonic()
        stop_other = asyncio.Event()
        other = asyncio.ensure_future(other_loop(stop_other))
        print(f"sending {len(bodies)} storm alerts over {args.seconds:.0f} s ...", flush=True)
        await send_storm(sender, bodies, args.seconds)
        result.storm_sent = time.monotonic() - start
        print(f"storm sent in {result.storm_sent:.1f} s; waiting for C0STORM ...", flush=True)
        deadline = start + args.limit
        last_report = 0.0
        while time.monotonic() < deadline:
            view.advance(slack.messages, STORM)
            if view.visible >= len(bodies):
                break
            if time.monotonic() - last_report > 15:
                last_report = time.monotonic()
                print(
                    f"  t={last_report - start:5.1f} s: {view.visible} visible "
                    f"({len(view.own)} own cards, {len(view.digests)} digests)",
                    flush=True,
                )
            await asyncio.sleep(0.1)
        view.advance(slack.messages, STORM)
        done = time.monotonic()
        result.visible_at_limit = view.visible
        if view.visible >= len(bodies):
            # when the last count arrived, not when the loop noticed
            result.all_visible = visible_since(slack.messages, STORM, len(bodies)) - start
        stop_other.set()
        await other
        storm_end = done

        # after the storm: one P0
        before = sum(view.digests.values())
        sent_at = await sender.post(payload("AfterStormP0", "svc-after", "critical", "storm"))
        p0_deadline = sent_at + args.after_limit
        while time.monotonic() < p0_deadline:
            view.advance(slack.messages, STORM)
            if "AfterStormP0" in view.own:
                result.after_p0 = view.own["AfterStormP0"] - sent_at
                result.after_p0_how = "own card"
                break
            if "AfterStormP0" in view.names_in_digests or sum(view.digests.values()) > before:
                result.after_p0 = latest_digest_time(slack.messages, STORM, sent_at) - sent_at
                result.after_p0_how = "counted in a digest"
                break
            await asyncio.sleep(0.05)
        end = time.monotonic()

        # the unrelated chat during the storm
        other_view.advance(slack.messages, OTHER)
        for name, at in other_sent.items():
            if name in other_view.own:
                result.other_latency.append(other_view.own[name] - at)
            elif at < storm_end:
                result.other_lost += 1

        result.own_cards = sum(1 for n in view.own if n.startswith("Storm"))
        result.digests = len(view.digests)
        for channel in (STORM, OTHER):
            posts = [
                m.at
                for m in slack.messages
                if m.channel == channel and m.method == "chat.postMessage"
            ]
            result.per_minute[channel] = max_per_minute(posts)
            result.posts[channel] = len(posts)
            result.updates[channel] = sum(
                1 for m in slack.messages if m.channel == channel and m.method == "chat.update"
            )
        result.rejected = dict(slack.rejected)
        result.errors = sender.errors[:5] + (
            [f"... {len(sender.errors)} errors in all"] if len(sender.errors) > 5 else []
        )
        print(f"measured for {end - start:.0f} s", flush=True)


def visible_since(messages: list[Message], channel: str, target: int) -> float:
    """When the channel first showed `target` incidents."""
    view = View()
    for msg in messages:
        if msg.channel != channel:
            continue
        view.see(msg)
        if view.visible >= target:
            return msg.at
    return math.nan


def latest_digest_time(messages: list[Message], channel: str, after: float) -> float:
    for msg in messages:
        if msg.channel == channel and msg.at >= after and _DIGEST.search(msg.text):
            return msg.at
    return math.nan


# -- report -------------------------------------------------------------------------------------


def report(result: Result, args: argparse.Namespace) -> None:
    def secs(value: float | None) -> str:
        return "not within the limit" if value is None else f"{value:.1f} s"

    print()
    print(f"== {result.mode}: {args.alerts} storm alerts ({args.p0} P0) over {args.seconds:.0f} s")
    for channel in (STORM, OTHER):
        print(
            f"  {channel}: max {result.per_minute.get(channel, 0)} messages in any 60 s; "
            f"{result.posts.get(channel, 0)} posted, {result.updates.get(channel, 0)} updates, "
            f"{result.rejected.get(channel, 0)} answered 429"
        )
    print(f"  429s answered: {sum(result.rejected.values())}")
    print(f"  storm alerts sent (all answered) in {result.storm_sent:.1f} s")
    print(
        f"  every storm incident visible: {secs(result.all_visible)} after the first alert "
        f"({result.visible_at_limit} visible: {result.own_cards} own cards, "
        f"{result.digests} digest card(s))"
    )
    lat = result.other_latency
    print(
        f"  {OTHER} cards during the storm: {len(lat)} delivered, p50 {quantile(lat, 0.5):.2f} s,"
        f" max {max(lat, default=math.nan):.2f} s"
        + (f", {result.other_lost} never arrived" if result.other_lost else "")
    )
    how = f" ({result.after_p0_how})" if result.after_p0_how else ""
    print(f"  P0 after the storm visible: {secs(result.after_p0)}{how}")
    for line in result.errors:
        print(f"  webhook error: {line}")
    if result.problems:
        print("  server log (warnings and errors, by kind):")
        for line in result.problems:
            print("    " + line.replace("\n", "\n    "))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--no-p0-digest", action="store_true", help="outbox.storm_tiers: [P1, P2, P3]"
    )
    parser.add_argument("--alerts", type=int, default=5000, help="storm alerts (default 5000)")
    parser.add_argument("--p0", type=int, default=500, help="of which P0 (default 500)")
    parser.add_argument("--seconds", type=float, default=30.0, help="storm length (30 s)")
    parser.add_argument("--other-every", type=float, default=5.0, help="C0OTHER alert period")
    parser.add_argument(
        "--limit", type=float, default=180.0, help="wait for the storm to show (180 s)"
    )
    parser.add_argument(
        "--after-limit", type=float, default=120.0, help="wait for the last P0 (120 s)"
    )
    parser.add_argument("--slack-rate", type=float, default=1.0, help="fake's posts/s/channel")
    parser.add_argument("--slack-burst", type=float, default=3.0, help="fake's burst")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    why = asyncio.run(postgres_available())
    if why is not None:
        print(f"PostgreSQL at 127.0.0.1:5432 does not answer: {why}")
        return 1
    result = asyncio.run(run(args))
    report(result, args)
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
