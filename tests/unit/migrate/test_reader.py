"""Reading a tool's API or its exported files: every failure is an `ImportFailed` that says
what was asked and why it failed."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.migrate.flows import Origin
from bot.migrate.reader import ApiReader, FileReader, ImportFailed
from tests.fake_http import FakeHttpServer
from tests.unit.migrate.harness import cli, tocsin_config
from tests.unit.migrate.stub import StubTool

Handler = Callable[[web.Request], Awaitable[web.Response]]


def answer(make: Callable[..., web.Response], *args: Any, **kwargs: Any) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return make(*args, **kwargs)

    return handler


class Api(FakeHttpServer):
    busy = 0
    headers: list[str]

    def routes(self, app: web.Application) -> None:
        self.headers = []
        app.router.add_get("/v2/ok", self.ok)
        app.router.add_get(
            "/v2/denied",
            answer(web.json_response, {"message": "Key is invalid", "took": 0.0}, status=401),
        )
        app.router.add_get(
            "/v2/forbidden",
            answer(
                web.json_response, {"error": {"message": "Access Denied", "code": 2010}}, status=403
            ),
        )
        app.router.add_get(
            "/v2/missing", answer(web.json_response, {"detail": "Not found."}, status=404)
        )
        app.router.add_get("/v2/boom", answer(web.Response, text="Internal trouble", status=500))
        app.router.add_get(
            "/v2/html", answer(web.Response, text="<html>login</html>", content_type="text/html")
        )
        app.router.add_get("/v2/busy", self.crowded)
        app.router.add_get("/v2/slow", self.slow)

    async def ok(self, request: web.Request) -> web.Response:
        self.headers.append(request.headers.get("Authorization", ""))
        if "X-Grafana-URL" in request.headers:
            self.headers.append(request.headers["X-Grafana-URL"])
        return web.json_response(
            {"data": [1, 2], "query": [[k, v] for k, v in request.query.items()]}
        )

    async def crowded(self, request: web.Request) -> web.Response:
        self.busy += 1
        if self.busy < 3:
            return web.json_response(
                {"message": "slow down"}, status=429, headers={"Retry-After": "0"}
            )
        return web.json_response({"data": "finally"})

    async def slow(self, request: web.Request) -> web.Response:
        await self.held["slow"].wait()  # answers only when the test ends: never in time
        return web.json_response({})


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    server = Api()
    await server.start()
    yield server
    await server.close()


async def reading(api: Api, path: str, timeout: float = 10.0) -> object:
    reader = ApiReader(
        "Tool", f"http://127.0.0.1:{api.port}/", {"Authorization": "Key k1"}, timeout=timeout
    )
    try:
        return await reader.get(path, {"offset": 0, "ids[]": ["a", "b"]})
    finally:
        await reader.close()


async def test_answers_are_decoded_with_the_tools_headers_and_parameters(api: Api) -> None:
    assert await reading(api, "/v2/ok") == {
        "data": [1, 2],
        "query": [["offset", "0"], ["ids[]", "a"], ["ids[]", "b"]],
    }
    assert api.headers == ["Key k1"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v2/denied", "Tool refused the token (HTTP 401 for /v2/denied): Key is invalid"),
        ("/v2/forbidden", "Tool refused the token (HTTP 403 for /v2/forbidden): Access Denied"),
        ("/v2/missing", "Tool has nothing at /v2/missing (HTTP 404): Not found."),
        ("/v2/boom", "Tool answered HTTP 500 for /v2/boom: Internal trouble"),
        ("/v2/html", "Tool answered /v2/html with something that is not JSON (text/html"),
    ],
)
async def test_refusals_and_surprises_are_named(api: Api, path: str, message: str) -> None:
    with pytest.raises(ImportFailed) as caught:
        await reading(api, path)
    assert str(caught.value).startswith(message)


async def test_too_many_requests_waits_as_told_then_reads(api: Api) -> None:
    assert await reading(api, "/v2/busy") == {"data": "finally"}
    assert api.busy == 3


async def test_a_silent_tool_times_out(api: Api) -> None:
    api.hold("slow")
    with pytest.raises(ImportFailed, match="did not answer in time"):
        await reading(api, "/v2/slow", timeout=0.2)


async def test_an_unreachable_tool_is_named() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reader = ApiReader("Tool", f"http://127.0.0.1:{port}", {})
    with pytest.raises(ImportFailed, match=f"cannot reach Tool at http://127.0.0.1:{port}/v2/x"):
        await reader.get("/v2/x")
    await reader.close()
    with pytest.raises(ImportFailed, match="must start with http"):
        ApiReader("Tool", "ftp://example.com", {})


async def test_files_mirror_the_apis_paths(tmp_path: Path) -> None:
    (tmp_path / "api" / "v1").mkdir(parents=True)
    (tmp_path / "api" / "v1" / "users.json").write_text('{"results": []}')
    (tmp_path / "api" / "v1" / "bad.json").write_text("{nope")
    reader = FileReader("Tool", tmp_path)
    assert reader.follows_pages is False
    assert await reader.get("/api/v1/users/", {"page": 2}) == {"results": []}
    assert await reader.get("https://example.com/api/v1/users/?page=3") == {"results": []}
    with pytest.raises(
        ImportFailed,
        match=r"teams.json: missing \(it should hold Tool's answer to GET /api/v1/teams/\)",
    ):
        await reader.get("/api/v1/teams/")
    with pytest.raises(ImportFailed, match=r"bad\.json: not JSON"):
        await reader.get("/api/v1/bad")
    with pytest.raises(ImportFailed, match="cannot map"):
        await reader.get("/api/../../etc/passwd")
    with pytest.raises(ImportFailed, match="no such folder"):
        FileReader("Tool", tmp_path / "nowhere")


async def test_more_headers_go_with_the_tools_own(api: Api, tmp_path: Path) -> None:
    origin = Origin(
        url=f"http://127.0.0.1:{api.port}",
        token="t0k",
        headers=(("X-Grafana-URL", "https://ours.grafana.net"),),
    )
    reader = origin.reader(StubTool())
    assert isinstance(reader, ApiReader)
    await reader.get("/v2/ok")
    await reader.close()
    assert api.headers == ["Stub t0k", "https://ours.grafana.net"]
    bearer = Origin(url=origin.url, headers=(("Authorization", "Bearer glsa_1"),))
    reader = bearer.reader(StubTool())
    assert isinstance(reader, ApiReader)
    await reader.get("/v2/ok")
    await reader.close()
    assert api.headers[-1] == "Bearer glsa_1"
    config = tocsin_config(tmp_path)
    done = await cli("import", "oncall", "--config", str(config), "--plan", "--header", "nocolon")
    assert (done.code, done.err) == (
        1,
        "tocsin: --header 'nocolon': write it as NAME:VALUE (nothing was changed)\n",
    )
