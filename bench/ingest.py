"""Ingest benchmark: a real Tocsin server, Alertmanager webhooks pushed at it, alerts/s and latency.

Run with ``make bench`` (``.venv/bin/python bench/ingest.py``); ``--help`` lists the knobs and
``bench/README.md`` explains what is measured and how to read the table.

Every (database, scenario) pair gets a fresh database and a fresh ``tocsin run`` subprocess on a
free port of 127.0.0.1. All request bytes are built before the clock starts, and the client is a
minimal HTTP/1.1 keep-alive client on asyncio streams, so it costs the server as little CPU as
possible on a small machine.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # as a script, too

from bench.ingest_client import PhaseResult, run_phase
from bench.ingest_load import POOL_SIZE, REPEAT_SHARE, MixedWorkload, Request, Workload
from bench.ingest_preload import preload
from bench.ingest_server import (
    PG_ADMIN,
    ActivitySampler,
    BareServer,
    LogProblem,
    Server,
    condense,
    database,
    postgres_available,
    start_profiler,
    stop_profiler,
)

DEFAULT_REQUESTS = {1: 4000, 50: 400}
TARGETS = {1: 1_500, 50: 16_000}
TARGET_P99_MS = 50.0


# -- one run and the report --------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    db: str
    per_request: int
    target: str
    result: PhaseResult
    load1: float = math.nan
    round: int = 1

    @property
    def rate(self) -> float:
        return self.result.alerts / max(self.result.seconds, 1e-9)


@dataclass(slots=True)
class Bodies:
    """Everything one (database, scenario) pair sends, built once, sent to every target."""

    workload: Workload | MixedWorkload
    setup: list[Request]
    warmup: list[Request]
    measured: list[Request]


def make_bodies(per_request: int, args: argparse.Namespace) -> Bodies:
    measured_n = args.requests or DEFAULT_REQUESTS[per_request]
    warmup_n = args.warmup if args.warmup is not None else max(measured_n // 10, 4 * args.conns)
    load: Workload | MixedWorkload
    if args.workload == "mixed":
        load = MixedWorkload(seed=args.seed)
    else:
        load = Workload(
            groups=args.groups, seed=args.seed, lag=2 * args.conns, group_only=args.group_only
        )
    setup = load.setup()
    warmup = load.requests(warmup_n, per_request)
    return Bodies(load, setup, warmup, load.requests(measured_n, per_request))


async def run_one(kind: str, per_request: int, args: argparse.Namespace) -> list[Row]:
    bodies = make_bodies(per_request, args)
    targets = ["tocsin", "bare"] if args.target == "both" else [args.target]
    rows = []
    for round_ in range(1, args.rounds + 1):  # interleaved, so noise hits every target alike
        for target in targets:
            row = await run_target(kind, per_request, target, bodies, args)
            row.round = round_
            rows.append(row)
            print()
    return rows


async def run_target(
    kind: str, per_request: int, target: str, bodies: Bodies, args: argparse.Namespace
) -> Row:
    title = f"[{kind}, {per_request} alert{'s' if per_request > 1 else ''}/request, {target}]"
    workdir = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    measured = bodies.measured
    try:
        async with database(kind, workdir) as url:
            server: Server = (BareServer if target == "bare" else Server)(
                workdir, url, args.workers
            )
            size = sum(len(r.data) for r in measured) / max(1, len(measured))
            try:
                ready = await server.start()
                print(
                    f"{title} server pid {server.pid} on port {server.port}, ready in "
                    f"{ready:.1f} s; workload {args.workload}, request size ~{size / 1024:.1f} KiB",
                    flush=True,
                )
                if args.preload:
                    done = await preload(
                        url,
                        target,
                        args.preload,
                        bodies.workload.history(),
                        args.seed,
                        analyze=not args.no_analyze,
                    )
                    print(f"  preload:  {done}", flush=True)
                setup = PhaseResult()
                if bodies.setup:
                    setup = await run_phase(server.port, bodies.setup, args.conns, 60.0, None)
                    print(
                        f"  setup:    {setup.requests} requests, {setup.alerts} alerts "
                        f"(the pool of {POOL_SIZE:,} firing, then 5/7 of it resolved) in "
                        f"{setup.seconds:.1f} s, {setup.errors} errors",
                        flush=True,
                    )
                warm = await run_phase(
                    server.port, bodies.warmup, args.conns, args.warmup_duration, server.pid
                )
                print(
                    f"  warm-up:  {warm.requests} requests, {warm.alerts} alerts in "
                    f"{warm.seconds:.1f} s, {warm.errors} errors",
                    flush=True,
                )
                profiler = start_profiler(args.profile, server, f"{kind}-{per_request}-{target}")
                activity = ActivitySampler(url) if args.pg_activity and kind == "postgres" else None
                if activity is not None:
                    await activity.start()
                try:
                    result = await run_phase(
                        server.port, measured, args.conns, args.duration, server.pid
                    )
                finally:
                    profile = await stop_profiler(profiler)
                    sessions = await activity.stop() if activity is not None else None
                load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
                repeat_share = 100 * result.repeats / max(1, result.alerts)
                print(
                    f"  measured: {result.requests} requests, {result.alerts} alerts "
                    f"({repeat_share:.0f} % repeats) in {result.seconds:.1f} s, "
                    f"{result.errors} errors"
                    + (" (hit the time limit)" if result.requests < len(measured) else "")
                    + (" (CLIENT TIMED OUT)" if result.timed_out else ""),
                    flush=True,
                )
                cpu = f"  CPU: client {result.client_cpu / result.seconds:.2f} cores"
                if result.server_cpu is not None:
                    cpu += f", server {result.server_cpu / result.seconds:.2f} cores"
                print(cpu + f"; machine: {os.cpu_count()} CPUs, load average {load1:.2f}")
                if profile is not None:
                    print(f"  profile (py-spy, measured phase): {profile}")
                if sessions is not None:
                    print(f"  PostgreSQL sessions of this database (measured phase): {sessions}")
                phases = [("setup", setup), ("warm-up", warm), ("measured", result)]
                for phase, sample in [(n, x) for n, p in phases for x in p.samples]:
                    print(f"  error ({phase}): {sample}")
                expected_received = setup.alerts + warm.alerts + result.alerts
                expected_dedup = warm.repeats + result.repeats
                print(
                    f"  /metrics (expect received {expected_received}"
                    + (f", deduplicated {expected_dedup}" if target == "tocsin" else "")
                    + (", setup and warm-up included):" if setup.alerts else ", warm-up included):")
                )
                for line in await server.metrics():
                    print(f"    {line}")
                if args.workers > 1:
                    print("    (counters of the one worker process that answered /metrics)")
                if warm.errors or result.errors:
                    print(
                        "    (failed requests changed nothing, so later repeats of their new "
                        "alerts count as new: expect fewer deduplicated)"
                    )
                result.errors += setup.errors
            finally:
                code = await server.stop()
                running, stopping = server.problems()
                print(f"  server exit code {code}")
                report_problems("while running", running, args.show_log)
                report_problems("while shutting down", stopping, args.show_log)
                if args.keep:
                    print(f"  kept {workdir} (config, {server.log.name})")
            return Row(kind, per_request, target, result, load1)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def report_problems(when: str, problems: list[LogProblem], limit: int) -> None:
    if not problems:
        print(f"  server log {when}: no warnings or errors")
        return
    total = sum(p.count for p in problems)
    print(f"  server log {when}: {total} warnings/errors of {len(problems)} kinds:")
    for problem in problems[:limit]:
        print(f"  - {problem.count} x {problem.signature}")
        if "Traceback" in problem.example or problem.count == 1:
            print("      " + condense(problem.example).replace("\n", "\n      "))
    if len(problems) > limit:
        print(f"  - ... {len(problems) - limit} more kinds (--show-log, --keep)")


def table(rows: list[Row]) -> Iterator[str]:
    header = (
        "db",
        "target",
        "alerts/req",
        "requests",
        "alerts",
        "seconds",
        "alerts/s",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "srv CPU",
        "load",
    )
    lines = [header]
    for row in rows:
        r = row.result
        seconds = max(r.seconds, 1e-9)
        cpu = "-" if r.server_cpu is None else f"{r.server_cpu / seconds:.2f}"
        lines.append(
            (
                row.db,
                row.target if row.round == 1 else f"{row.target} #{row.round}",
                str(row.per_request),
                str(r.requests),
                str(r.alerts),
                f"{r.seconds:.2f}",
                f"{r.alerts / seconds:,.0f}",
                f"{r.requests / seconds:,.0f}",
                f"{r.percentile(0.50) * 1000:.1f}",
                f"{r.percentile(0.99) * 1000:.1f}",
                str(r.errors),
                cpu,
                f"{row.load1:.2f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        yield "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        if n == 0:
            yield "  ".join("-" * w for w in widths)


def ratios(rows: list[Row]) -> Iterator[str]:
    """Tocsin against the bare baseline, per database and scenario (with --rounds, the best
    round of each: noise on a shared machine only ever slows a run down)."""
    best: dict[tuple[str, int, str], Row] = {}
    for row in rows:
        key = (row.db, row.per_request, row.target)
        if key not in best or row.rate > best[key].rate:
            best[key] = row
    pairs = [
        (row, best[(db, n, "bare")])
        for (db, n, target), row in best.items()
        if target == "tocsin" and (db, n, "bare") in best
    ]
    if not pairs:
        return
    rounds = max(r.round for r in rows)
    yield (
        "Tocsin against the bare baseline (same client, same bodies, same database"
        + (f"; best of {rounds} rounds each" if rounds > 1 else "")
        + "):"
    )
    for row, base_row in pairs:
        r, base = row.result, base_row.result
        rate, base_rate = row.rate, base_row.rate
        share = rate / base_rate if base_rate else math.nan
        yield (
            f"  {row.db}, {row.per_request}/request: {rate:,.0f} vs {base_rate:,.0f} alerts/s "
            f"= {share:.0%} of bare; p50 {r.percentile(0.5) * 1000:.1f} vs "
            f"{base.percentile(0.5) * 1000:.1f} ms, p99 {r.percentile(0.99) * 1000:.1f} vs "
            f"{base.percentile(0.99) * 1000:.1f} ms"
        )


def verdicts(rows: list[Row]) -> Iterator[str]:
    yield (
        f"Targets (Tocsin on PostgreSQL): >= {TARGETS[1]:,} alerts/s with 1-alert requests, "
        f">= {TARGETS[50]:,} alerts/s with 50-alert requests, p99 < {TARGET_P99_MS:.0f} ms."
    )
    for row in rows:
        if row.db != "postgres" or row.per_request not in TARGETS or row.target != "tocsin":
            continue
        r = row.result
        rate = r.alerts / max(r.seconds, 1e-9)
        p99 = r.percentile(0.99) * 1000
        ok = rate >= TARGETS[row.per_request] and p99 < TARGET_P99_MS and not r.errors
        yield (
            f"  postgres, {row.per_request}/request: {rate:,.0f} alerts/s, p99 {p99:.1f} ms"
            f" -> {'meets' if ok else 'MISSES'} the target"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--scenario", choices=("1", "50", "both"), default="both", help="alerts per request"
    )
    parser.add_argument(
        "--workload",
        choices=("groups", "mixed"),
        default="groups",
        help="groups: new alerts keep opening incidents over 300 groups, one group per "
        "request (default); mixed: requests mixing groups over a pool of 1,000 existing "
        "alerts, 5/7 of them resolved (see bench/README.md)",
    )
    parser.add_argument(
        "--target",
        choices=("tocsin", "bare", "both"),
        default="tocsin",
        help="the server measured: Tocsin, the bare baseline (bench/bare.py), or both in turn "
        "with the same bodies (default tocsin)",
    )
    parser.add_argument(
        "--baseline",
        action="store_const",
        const="both",
        dest="target",
        help="the same as --target both",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="measured requests per run (default 4000 for 1 alert/request, 400 for 50)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=60.0,
        help="time limit of the measured phase, seconds (default 60)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="warm-up requests (default a tenth of --requests, at least 4 per connection)",
    )
    parser.add_argument(
        "--warmup-duration",
        type=float,
        default=15.0,
        help="time limit of the warm-up, seconds (default 15)",
    )
    parser.add_argument(
        "--preload",
        type=int,
        default=0,
        metavar="N",
        help="before the warm-up, write N resolved alerts (in resolved incidents of the "
        "workload's groups, about 5 alerts each) straight into the database (default 0)",
    )
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="do not VACUUM (ANALYZE) the preloaded tables (ANALYZE on SQLite)",
    )
    parser.add_argument("--conns", type=int, default=8, help="concurrent connections")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (Tocsin's server.workers; the baseline's uvicorn workers)",
    )
    parser.add_argument(
        "--groups",
        type=int,
        default=300,
        help="groups workload: alert groups (alertname x service), at most 300",
    )
    parser.add_argument(
        "--group-only",
        action="store_true",
        help="groups workload: 50-alert requests repeat only their own group's alerts (no "
        "top-up from other groups): exact Alertmanager batches, fewer repeats early on",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="record the server with py-spy during each measured phase (collapsed stacks in "
        "DIR; summarise with `python -m bench.profile FILE`)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every target this many times, interleaved (tocsin, bare, tocsin, ...); the "
        "ratio line compares the best round of each (default 1)",
    )
    parser.add_argument(
        "--pg-activity",
        action="store_true",
        help="sample pg_stat_activity every 50 ms during the measured phase: what the "
        "server's PostgreSQL sessions were doing (running, waiting for a lock, a WAL flush, "
        "or idle in a transaction)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--show-log",
        type=int,
        default=10,
        help="kinds of server log warnings/errors to print per run",
    )
    parser.add_argument("--keep", action="store_true", help="keep config and server log")
    args = parser.parse_args(argv)
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.conns < 1 or args.duration <= 0 or args.warmup_duration <= 0:
        parser.error("--conns and the durations must be positive")
    if args.preload < 0 or args.workers < 1 or args.rounds < 1:
        parser.error("--preload must not be negative, --workers and --rounds at least 1")
    return args


async def amain(args: argparse.Namespace) -> int:
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    scenarios = [1, 50] if args.scenario == "both" else [int(args.scenario)]
    rows: list[Row] = []
    failed = False
    for kind in kinds:
        if kind == "postgres":
            why = await postgres_available()
            if why is not None:
                print(f"[postgres] skipped: no PostgreSQL at {PG_ADMIN} ({why})\n")
                continue
        for per_request in scenarios:
            try:
                done = await run_one(kind, per_request, args)
            except (RuntimeError, OSError, asyncpg.PostgresError, sqlite3.Error) as exc:
                print(f"[{kind}, {per_request}/request] FAILED: {exc}\n")
                failed = True
                continue
            rows.extend(done)
            failed = failed or any(r.result.errors > 0 or r.result.timed_out for r in done)
    preloaded = f", {args.preload:,} alerts preloaded" if args.preload else ""
    print(
        f"Ingest, workload {args.workload}, {args.conns} connections, {args.workers} server "
        f"process{'es' if args.workers > 1 else ''}, Alertmanager v4 webhooks, "
        f"{REPEAT_SHARE:.0%} repeats{preloaded}; measured phase only:"
    )
    for line in table(rows):
        print(line)
    print()
    for line in ratios(rows):
        print(line)
    for line in verdicts(rows):
        print(line)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvloop  # the client should cost the server as little CPU as possible
    except ImportError:
        return asyncio.run(amain(args))
    return uvloop.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
