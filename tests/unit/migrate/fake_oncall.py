"""A local fake of Grafana OnCall's public API v1 on 127.0.0.1.

It serves the lists in ``data/oncall/*.json`` the way OnCall does: the token bare in the
``Authorization`` header (anything else is refused with OnCall's HTTP 403 and
``{"detail": "Invalid token."}``), paths ending with a slash, and page-number pagination
(``?page=N``, ``next`` a full URL) with a small page size so every list spans several pages.
``/api/v1/schedules/<id>/final_shifts`` answers the hand-written periods of
``final_shifts.json`` that overlap the asked dates; a test may change `final_shifts`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fake_http import FakeHttpServer

DATA = Path(__file__).parent / "data" / "oncall"
LISTS = (
    "users",
    "teams",
    "schedules",
    "on_call_shifts",
    "escalation_chains",
    "escalation_policies",
    "integrations",
    "routes",
)
NOTE = "_source"


def load(name: str) -> dict[str, Any]:
    """A data file without its note on where its shape comes from."""
    content: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    content.pop(NOTE, None)
    return content


def lists() -> dict[str, list[dict[str, Any]]]:
    return {name: list(load(name)["results"]) for name in LISTS}


def write_folder(folder: Path) -> Path:
    """The same data as a folder of OnCall's answers, each list whole in one page, laid out
    like the API's paths (``/api/v1/users/`` is ``api/v1/users.json``)."""
    base = folder / "api" / "v1"
    base.mkdir(parents=True, exist_ok=True)
    for name, items in lists().items():
        (base / f"{name}.json").write_text(json.dumps(_page(items, 1, len(items) or 1, None)))
    for schedule, periods in load("final_shifts").items():
        path = base / "schedules" / schedule / "final_shifts.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_page(periods, 1, len(periods) or 1, None)))
    return folder


def _page(items: list[dict[str, Any]], number: int, size: int, url: str | None) -> dict[str, Any]:
    pages = max(1, -(-len(items) // size))
    chunk = items[(number - 1) * size : number * size]
    return {
        "count": len(items),
        "next": f"{url}page={number + 1}" if url and number < pages else None,
        "previous": f"{url}page={number - 1}" if url and number > 1 else None,
        "results": chunk,
        "page_size": size,
        "current_page_number": number,
        "total_pages": pages,
    }


@dataclass(kw_only=True)
class FakeOnCall(FakeHttpServer):
    token: str = "oncall-test-token"
    page_size: int = 2
    data: dict[str, list[dict[str, Any]]] = field(default_factory=lists)
    final_shifts: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {k: list(v) for k, v in load("final_shifts").items()}
    )
    requests: list[str] = field(default_factory=list)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/schedules/{schedule}/final_shifts", self._final_shifts)
        app.router.add_get("/api/v1/{name}/", self._list)

    def _refused(self, request: web.Request) -> web.Response | None:
        self.requests.append(str(request.rel_url))
        if request.headers.get("Authorization") != self.token:
            return web.json_response({"detail": "Invalid token."}, status=403)
        return None

    def _paged(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        try:
            number = int(request.query.get("page", "1"))
        except ValueError:
            return web.json_response({"detail": "Invalid page."}, status=404)
        pages = max(1, -(-len(items) // self.page_size))
        if not 1 <= number <= pages:
            return web.json_response({"detail": "Invalid page."}, status=404)
        query = {k: v for k, v in request.query.items() if k != "page"}
        base = str(request.url.with_query(query))
        url = f"{base}{'&' if query else '?'}"
        return web.json_response(_page(items, number, self.page_size, url))

    async def _list(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        name = request.match_info["name"]
        if name not in self.data:
            return web.json_response({"detail": "Not found."}, status=404)
        return self._paged(request, self.data[name])

    async def _final_shifts(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        schedule = request.match_info["schedule"]
        if schedule not in self.final_shifts:
            return web.json_response({"detail": "Not found."}, status=404)
        try:
            first = date.fromisoformat(request.query["start_date"])
            last = date.fromisoformat(request.query["end_date"])
        except (KeyError, ValueError):
            return web.json_response(
                {"detail": "start_date and end_date are required ISO dates"}, status=400
            )
        begin = datetime.fromisoformat(f"{first}T00:00:00+00:00")
        end = datetime.fromisoformat(f"{last}T00:00:00+00:00") + timedelta(days=1)
        periods = [p for p in self.final_shifts[schedule] if _overlaps(p, begin, end)]
        return self._paged(request, periods)


def _overlaps(period: dict[str, Any], begin: datetime, end: datetime) -> bool:
    start = datetime.fromisoformat(str(period["shift_start"]).replace("Z", "+00:00"))
    finish = datetime.fromisoformat(str(period["shift_end"]).replace("Z", "+00:00"))
    return start < end and begin < finish
