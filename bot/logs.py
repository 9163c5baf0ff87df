"""Structured logs: JSON lines in production, readable lines in the demo."""

from __future__ import annotations

import gc
import logging
import sys

import structlog


class _Stderr:
    """Writes each line to whatever `sys.stderr` is at that moment (tests swap it)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    debug = info = warning = warn = error = critical = exception = fatal = msg


def configure(fmt: str, level: str = "INFO") -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if fmt == "json" else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=lambda *_args: _Stderr(),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def tune_gc() -> None:
    """For server processes, once wired: what exists now lives as long as the process, so keep
    the collector off it, and let it run less often (each request allocates many short-lived
    objects; the default thresholds spent a tenth of the CPU collecting them)."""
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
