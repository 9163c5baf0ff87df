"""A local fake of PagerDuty's REST API v2, serving the answers in ``data/pagerduty`` the way
PagerDuty does: ``Authorization: Token token=<key>`` checked on every call (HTTP 401 with
PagerDuty's ``{"error": {"message", "code"}}`` otherwise), lists in classic offset/limit pages
with ``more``, schedule layers only on ``GET /schedules/{id}``, the rendered final schedule
only for a ``since``/``until`` range, and overrides only for one. Tests change the public
fields to script surprises."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fake_http import FakeHttpServer

DATA = Path(__file__).parent / "data" / "pagerduty"
KEY = "u+pd-Xq7Rk2Lw9Tz4Mv8Nc3B"
NOTE = "_source"
LISTS = ("users", "teams", "schedules", "escalation_policies", "services")


def load(name: str) -> dict[str, Any]:
    """A data file with its note removed."""
    body: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    body.pop(NOTE, None)
    return body


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _clipped(entries: list[dict[str, Any]], since: str, until: str) -> list[dict[str, Any]]:
    """Entries overlapping [since, until), cut to it, as PagerDuty renders a final schedule."""
    lo, hi = _when(since), _when(until)
    out = []
    for entry in entries:
        start, end = max(_when(entry["start"]), lo), min(_when(entry["end"]), hi)
        if start < end:
            out.append({**entry, "start": _utc(start), "end": _utc(end)})
    return out


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Call:
    path: str
    query: list[tuple[str, str]]


@dataclass(kw_only=True)
class FakePagerDuty(FakeHttpServer):
    key: str = KEY
    page_size: int = 1
    """At most this many items a page, whatever ``limit`` asks (so every list spans pages)."""
    lists: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: load(name)[name] for name in LISTS}
    )
    members: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: load("teams")["members"]
    )
    overrides: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: load("overrides")["overrides"]
    )
    final: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: load("final_schedule"))
    endless: bool = False
    """Lists say ``more: true`` for ever, with no items past the end."""
    calls: list[Call] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        for name in LISTS:
            app.router.add_get(f"/{name}", self._list)
        app.router.add_get("/teams/{team}/members", self._members)
        app.router.add_get("/schedules/{schedule}", self._schedule)
        app.router.add_get("/schedules/{schedule}/overrides", self._overrides)

    def _refused(self, request: web.Request) -> web.Response | None:
        self.calls.append(Call(request.path, list(request.query.items())))
        if request.headers.get("Authorization") != f"Token token={self.key}":
            return web.json_response(load("error_401"), status=401)
        return None

    def _page(self, request: web.Request, key: str, items: list[dict[str, Any]]) -> web.Response:
        limit = min(int(request.query.get("limit", "25")), self.page_size, 100)
        offset = int(request.query.get("offset", "0"))
        page = items[offset : offset + limit]
        more = self.endless or offset + limit < len(items)
        total = len(items) if request.query.get("total") == "true" else None
        body = {key: page, "limit": limit, "offset": offset, "more": more, "total": total}
        return web.json_response(body)

    async def _list(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        key = request.path.strip("/")
        items = copy.deepcopy(self.lists[key])
        if key == "schedules":
            for schedule in items:  # the list answers without layers
                schedule.pop("schedule_layers", None)
        if key == "users":
            items = [_included(u, request.query.getall("include[]", [])) for u in items]
        return self._page(request, key, items)

    async def _members(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        team = request.match_info["team"]
        if team not in self.members:
            return _not_found()
        return self._page(request, "members", self.members[team])

    async def _schedule(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        found = self._find(request.match_info["schedule"])
        if found is None:
            return _not_found()
        schedule = copy.deepcopy(found)
        since, until = request.query.get("since"), request.query.get("until")
        if since and until:
            entries = _clipped(self.final.get(schedule["id"], []), since, until)
            schedule["final_schedule"] = {
                "name": "Final Schedule",
                "rendered_schedule_entries": entries,
            }
        return web.json_response({"schedule": schedule})

    async def _overrides(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        schedule = request.match_info["schedule"]
        if self._find(schedule) is None:
            return _not_found()
        since, until = request.query.get("since"), request.query.get("until")
        if not since or not until:
            error = {
                "message": "Invalid Input Provided",
                "code": 2001,
                "errors": ["Since and until are required."],
            }
            return web.json_response({"error": error}, status=400)
        lo, hi = _when(since), _when(until)
        chosen = [
            o
            for o in self.overrides.get(schedule, [])
            if _when(o["start"]) < hi and _when(o["end"]) > lo
        ]
        return web.json_response({"overrides": chosen})

    def _find(self, schedule: str) -> dict[str, Any] | None:
        return next((s for s in self.lists["schedules"] if s["id"] == schedule), None)


def _included(user: dict[str, Any], includes: list[str]) -> dict[str, Any]:
    """Contact methods and notification rules come whole only when asked to be included."""
    for key in ("contact_methods", "notification_rules"):
        if key not in includes:
            user[key] = [{"id": m["id"], "type": f"{m['type']}_reference"} for m in user[key]]
    return user


def _not_found() -> web.Response:
    return web.json_response({"error": {"message": "Not Found", "code": 2100}}, status=404)


def write_folder(fake: FakePagerDuty, folder: Path) -> Path:
    """The same answers as a folder of files laid out like the API's paths, each list whole in
    one file, each schedule's file holding its final schedule for the whole story."""

    def put(path: str, body: dict[str, Any]) -> None:
        file = folder.joinpath(*path.split("/")).with_suffix(".json")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(body), encoding="utf-8")

    def whole(key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {key: items, "limit": 100, "offset": 0, "more": False, "total": None}

    for name in LISTS:
        items = copy.deepcopy(fake.lists[name])
        if name == "schedules":
            for schedule in items:
                entries = fake.final.get(schedule["id"], [])
                put(
                    f"schedules/{schedule['id']}",
                    {
                        "schedule": {
                            **schedule,
                            "final_schedule": {
                                "name": "Final Schedule",
                                "rendered_schedule_entries": entries,
                            },
                        }
                    },
                )
                put(
                    f"schedules/{schedule['id']}/overrides",
                    {"overrides": fake.overrides.get(schedule["id"], [])},
                )
                schedule.pop("schedule_layers", None)
        put(name, whole(name, items))
    for team, members in fake.members.items():
        put(f"teams/{team}/members", whole("members", members))
    return folder
