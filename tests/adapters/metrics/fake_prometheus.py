"""A local fake Prometheus on 127.0.0.1: ``GET /api/v1/query`` answers what a test set for the
query text, in Prometheus's JSON (values as strings), and records every request.

`vector`, `scalar` and `error` build answers; a query nobody set gets an empty vector, as a
series that does not exist does. ``hold("query")`` keeps calls waiting (for timeouts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fake_http import FakeHttpServer

Answer = tuple[int, dict[str, Any], dict[str, str]]
NOW = 1_700_000_000.0


def vector(*series: tuple[str, dict[str, str]]) -> Answer:
    """A vector result: each series as (value text, labels)."""
    result = [{"metric": labels, "value": [NOW, text]} for text, labels in series]
    return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}, {}


def scalar(text: str) -> Answer:
    return 200, {"status": "success", "data": {"resultType": "scalar", "result": [NOW, text]}}, {}


def error(
    status: int, error_type: str, message: str, headers: dict[str, str] | None = None
) -> Answer:
    body = {"status": "error", "errorType": error_type, "error": message}
    return status, body, dict(headers or {})


@dataclass(frozen=True)
class Seen:
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakePrometheus(FakeHttpServer):
    answers: dict[str, Answer] = field(default_factory=dict)
    raw: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Query text → (status, body) sent as is (an HTML page from a proxy…)."""
    seen: list[Seen] = field(default_factory=list)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/query", self._query)
        app.router.add_get("/prefix/api/v1/query", self._query)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _query(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(Seen(dict(request.query), dict(request.headers)))
        if "query" in self.held:
            await self.held["query"].wait()
        promql = request.query.get("query", "")
        if promql in self.raw:
            status, text = self.raw[promql]
            return web.Response(status=status, text=text, content_type="text/html")
        status, body, headers = self.answers.get(promql, vector())
        return web.json_response(body, status=status, headers=headers)
