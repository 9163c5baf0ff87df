"""The ingest benchmark's client (``bench/ingest.py``): a minimal HTTP/1.1 keep-alive
client on asyncio streams (`Connection`, `http_get`), one phase of requests over a few
connections (`run_phase`, `PhaseResult`), and a process's CPU time (`process_cpu`)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.ingest_load import HOST, Request

SLACK = 30.0
"""Extra seconds a phase may take past its time limit (requests already in flight) before the
benchmark gives up on it."""


class ProtocolError(Exception):
    pass


class Connection:
    """One keep-alive connection: write pre-built request bytes, read status + sized body."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 "):
            raise ProtocolError(f"bad status line {head[:40]!r}")
        status = int(head[9:12])
        length, close = -1, False
        for line in head[:-4].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                raise ProtocolError("chunked responses are not supported by the bench client")
        if length < 0:
            raise ProtocolError("response without Content-Length")
        body = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    conn = Connection(port)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"
        return await asyncio.wait_for(conn.exchange(request.encode()), 10)
    finally:
        await conn.close()


@dataclass(slots=True)
class PhaseResult:
    requests: int = 0
    alerts: int = 0
    repeats: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    timed_out: bool = False
    client_cpu: float = 0.0
    server_cpu: float | None = None

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def run_phase(
    port: int, requests: list[Request], connections: int, time_limit: float, server_pid: int | None
) -> PhaseResult:
    """Send `requests` in order over `connections` keep-alive connections until all are answered
    or `time_limit` seconds have passed (requests in flight then are still awaited)."""
    result = PhaseResult()
    next_index = 0
    started = time.perf_counter()
    deadline = started + time_limit

    def record_error(text: str) -> None:
        result.errors += 1
        if len(result.samples) < 5:
            result.samples.append(text)

    async def worker() -> None:
        nonlocal next_index
        conn = Connection(port)
        try:
            while next_index < len(requests) and time.perf_counter() < deadline:
                item = requests[next_index]
                next_index += 1
                t0 = time.perf_counter()
                try:
                    status, body = await conn.exchange(item.data)
                except (
                    OSError,
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                    ProtocolError,
                    ValueError,
                ) as exc:
                    result.requests += 1
                    record_error(f"{type(exc).__name__}: {exc}")
                    await conn.close()
                    continue
                result.latencies.append(time.perf_counter() - t0)
                result.requests += 1
                if status == 200:
                    result.alerts += item.alerts
                    result.repeats += item.repeats
                else:
                    record_error(f"HTTP {status}: {body[:300].decode(errors='replace')}")
                    await conn.close()  # uvicorn drops the connection after an app error
        finally:
            await conn.close()

    cpu0, server0 = time.process_time(), process_cpu(server_pid)
    tasks = [asyncio.ensure_future(worker()) for _ in range(connections)]
    done, pending = await asyncio.wait(tasks, timeout=time_limit + SLACK)
    for task in pending:
        task.cancel()
    if pending:
        result.timed_out = True
        await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            record_error(f"client crashed: {task.exception()!r}")
    result.seconds = time.perf_counter() - started
    result.client_cpu = time.process_time() - cpu0
    server1 = process_cpu(server_pid)
    if server0 is not None and server1 is not None:
        result.server_cpu = server1 - server0
    return result


def process_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of a process and its children (worker processes), or None."""
    if pid is None:
        return None
    total, found = 0.0, False
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_file.read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(stat_file.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            found = True
    return total if found else None
