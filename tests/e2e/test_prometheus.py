"""A real Prometheus scrapes a tiny exporter the test drives; Tocsin's adapter reads it back.

The exporter serves ``http_requests_total`` for two services. Each scrape adds a step the test
sets to each counter, so an error ratio depends on the steps only, not on timing: the measured
``5xx / all`` ratio of ``orders`` is 0 before the test injects errors and the injected share
after. ``idle`` has counters that never move, so its ratio is ``0/0``: NaN, read as None.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.metrics import prometheus
from adapters.metrics.prometheus import PrometheusSource
from bot.errors import PermanentDelivery, RetryableDelivery
from tests.e2e.conftest import ManagedProcess, ProcessManager, require_program

pytestmark = pytest.mark.e2e

WINDOW = "15s"
ERROR_RATIO = (
    'sum(rate(http_requests_total{{service="{service}",code=~"5.."}}[{window}]))'
    ' / sum(rate(http_requests_total{{service="{service}"}}[{window}]))'
)
INJECTED = 0.1
"""The share of 5xx answers the test injects."""
TOLERANCE = 0.005
POLL_TIMEOUT = 60.0
"""Long enough for the rate window to fill with the new steps (15s) several times over."""


def error_ratio(service: str) -> str:
    return ERROR_RATIO.format(service=service, window=WINDOW)


class Exporter:
    """``/metrics`` in Prometheus's text format; every scrape adds `steps` to the counters."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counters: dict[tuple[str, str], float] = {
            ("orders", "200"): 0.0,
            ("orders", "500"): 0.0,
            ("idle", "200"): 0.0,
            ("idle", "500"): 0.0,
        }
        self.steps: dict[tuple[str, str], float] = {("orders", "200"): 100.0}
        self.scrapes = 0

    def set_steps(self, steps: dict[tuple[str, str], float]) -> None:
        with self.lock:
            self.steps = dict(steps)

    def scrape(self) -> bytes:
        with self.lock:
            self.scrapes += 1
            for key, step in self.steps.items():
                self.counters[key] += step
            lines = [
                "# HELP http_requests_total Requests answered, by service and status code.",
                "# TYPE http_requests_total counter",
                *(
                    f'http_requests_total{{service="{service}",code="{code}"}} {value}'
                    for (service, code), value in sorted(self.counters.items())
                ),
            ]
        return ("\n".join(lines) + "\n").encode()


def serve(exporter: Exporter) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = exporter.scrape()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def prometheus_bin() -> str:
    """Checked before any process starts: skips, or fails when CI=true, without Prometheus."""
    return require_program("prometheus")


@pytest.fixture
def exporter(prometheus_bin: str) -> Iterator[tuple[Exporter, int]]:
    """The exporter on a free 127.0.0.1 port, in a thread, shut down on teardown."""
    state = Exporter()
    server = serve(state)
    thread = threading.Thread(target=server.serve_forever, name="exporter", daemon=True)
    thread.start()
    try:
        yield state, int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def prometheus_config(exporter_port: int) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "orders", "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]}
        ],
    }


@pytest.fixture
def prometheus_server(
    prometheus_bin: str,
    exporter: tuple[Exporter, int],
    processes: ProcessManager,
    free_port: Callable[[], int],
    tmp_path: Path,
) -> tuple[ManagedProcess, str]:
    """A real Prometheus scraping the exporter every second; returns it and its URL."""
    _, exporter_port = exporter
    home = tmp_path / "prometheus"
    (home / "data").mkdir(parents=True)
    config_file = (home / "prometheus.yml").resolve()
    config_file.write_text(yaml.safe_dump(prometheus_config(exporter_port)), encoding="utf-8")
    port = free_port()
    process = processes.start(
        "prometheus",
        [
            prometheus_bin,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={(home / 'data').resolve()}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=debug",
        ],
        cwd=home,
    )
    base_url = f"http://127.0.0.1:{port}"
    process.wait_http(f"{base_url}/-/ready")
    return process, base_url


@pytest.fixture
async def source(prometheus_server: tuple[ManagedProcess, str]) -> AsyncIterator[PrometheusSource]:
    _, url = prometheus_server
    made = prometheus.create({"url": url, "timeout": "5s"})
    yield made
    await made.aclose()


async def wait_for(
    source: PrometheusSource,
    process: ManagedProcess,
    promql: str,
    done: Callable[[float | None, str], bool],
    what: str,
    timeout: float = POLL_TIMEOUT,
) -> tuple[float | None, str]:
    """Query until `done(value, note)`; fails with Prometheus's logs at the deadline."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        try:
            value, note = (await source.query(promql)).single()
        except RetryableDelivery as exc:  # e.g. a 503 while the TSDB is still starting
            last = str(exc)
        else:
            if done(value, note):
                return value, note
            last = f"value={value!r} note={note!r}"
        if time.monotonic() >= deadline:
            process.fail(f"{what}: not seen in {timeout}s; last answer: {last}\nquery: {promql}")
        await asyncio.sleep(0.25)


async def test_the_error_ratio_follows_the_injected_errors(
    source: PrometheusSource,
    prometheus_server: tuple[ManagedProcess, str],
    exporter: tuple[Exporter, int],
) -> None:
    process, _ = prometheus_server
    state, _ = exporter
    await wait_for(source, process, 'up{job="orders"}', lambda v, _: v == 1.0, "the first scrape")

    before, _ = await wait_for(
        source, process, error_ratio("orders"), lambda v, _: v is not None, "a first error ratio"
    )
    assert before == pytest.approx(0.0, abs=1e-9), f"errors before any were injected: {before}"

    state.set_steps(
        {("orders", "200"): 100.0 * (1 - INJECTED), ("orders", "500"): 100.0 * INJECTED}
    )
    after, note = await wait_for(
        source,
        process,
        error_ratio("orders"),
        lambda v, _: v is not None and abs(v - INJECTED) <= TOLERANCE,
        f"an error ratio of {INJECTED} ± {TOLERANCE}",
    )
    assert after == pytest.approx(INJECTED, abs=TOLERANCE)
    assert note == ""
    assert state.scrapes > 2


async def test_no_data_nan_infinity_and_errors_from_the_real_server(
    source: PrometheusSource, prometheus_server: tuple[ManagedProcess, str]
) -> None:
    process, _ = prometheus_server
    # Both services have two samples in the window once the ratio of orders has a value.
    await wait_for(
        source, process, error_ratio("orders"), lambda v, _: v is not None, "a first error ratio"
    )

    missing = await source.query(error_ratio("nope"))
    assert (missing.result_type, missing.single()) == ("vector", (None, "no data"))

    idle = await source.query(error_ratio("idle"))  # 0/0: counters that never moved
    assert idle.result_type == "vector"
    assert len(idle.samples) == 1
    assert idle.single() == (None, "NaN")

    assert (await source.query("0/0")).single() == (None, "NaN")
    infinite = await source.query("1/0")
    assert infinite.result_type == "scalar"
    assert infinite.single() == (math.inf, "")

    several = await source.query('http_requests_total{service="orders"}')
    assert {s.labels["code"] for s in several.samples} == {"200", "500"}
    assert several.samples[0].labels["__name__"] == "http_requests_total"
    assert several.single() == (None, "the query returned 2 series; aggregate it (sum, max…)")

    with pytest.raises(PermanentDelivery, match=r"prometheus: query: bad_data: .*parse error"):
        await source.query("sum(rate(http_requests_total[15s])")

    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)  # before this Prometheus existed
    assert (await source.query('up{job="orders"}', at=an_hour_ago)).single() == (None, "no data")
    assert (await source.query('up{job="orders"}', at=datetime.now(UTC))).single() == (1.0, "")

    process.stop()
    with pytest.raises(RetryableDelivery, match="prometheus: query: ConnectError"):
        await source.query("up")
