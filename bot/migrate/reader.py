"""Where a vendor's JSON comes from: its REST API (a base URL and a token) or a folder of files
holding what the API returned, laid out like the API's paths (``/v2/users`` is
``DIR/v2/users.json``), for a tool that is already read-only or out of reach.

Every failure is an `ImportFailed` naming what was asked and why it failed; nothing has been
changed when one is raised."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson

from bot.errors import TocsinError

Params = Mapping[str, str | int | Sequence[str]]

_RETRIES = 3
_MAX_WAIT = 10.0


class ImportFailed(TocsinError):
    """The old tool (or its export) could not be read; the message says what and why."""


class Reader(Protocol):
    follows_pages: bool
    """False for a folder of files: each file is the whole answer, next links are not followed."""

    async def get(self, path: str, params: Params | None = None) -> Any:
        """The decoded JSON answer to ``GET path`` (a path under the base, or a full URL the
        tool gave as a next link)."""
        ...


class ApiReader:
    """The tool's REST API, with the tool's own authentication headers."""

    follows_pages = True

    def __init__(
        self,
        title: str,
        base_url: str,
        headers: Mapping[str, str],
        *,
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ImportFailed(f"{title}: the URL must start with http:// or https://: {base_url}")
        self.title = title
        self.base = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            headers=dict(headers), timeout=timeout, transport=transport, follow_redirects=False
        )

    async def close(self) -> None:
        await self._client.aclose()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base}{path}"

    async def get(self, path: str, params: Params | None = None) -> Any:
        url = self.url(path)
        for attempt in range(_RETRIES + 1):
            try:
                response = await self._client.get(url, params=_plain(params))
            except httpx.TimeoutException:
                raise ImportFailed(f"{self.title} did not answer in time at {url}") from None
            except httpx.HTTPError as exc:
                raise ImportFailed(f"cannot reach {self.title} at {url}: {_reason(exc)}") from None
            if response.status_code == 429 and attempt < _RETRIES:
                await asyncio.sleep(_retry_after(response))
                continue
            return _decode(self.title, url, response)
        raise AssertionError("unreachable")  # the loop returns or raises


def _plain(params: Params | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: list(v) if not isinstance(v, str | int) else v for k, v in params.items()}


def _reason(exc: httpx.HTTPError) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or (str(cause) if cause else "") or type(exc).__name__
    return text.splitlines()[0]


def _retry_after(response: httpx.Response) -> float:
    try:
        wait = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        wait = 1.0
    return min(max(wait, 0.0), _MAX_WAIT)


def _decode(title: str, url: str, response: httpx.Response) -> Any:
    code = response.status_code
    if code in (401, 403):
        raise ImportFailed(
            f"{title} refused the token (HTTP {code} for {_path(url)}): {_message(response)}"
            " — check the token and its permissions (it needs read access)"
        )
    if code == 404:
        raise ImportFailed(f"{title} has nothing at {_path(url)} (HTTP 404): {_message(response)}")
    if code >= 300:
        raise ImportFailed(f"{title} answered HTTP {code} for {_path(url)}: {_message(response)}")
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ImportFailed(
            f"{title} answered {_path(url)} with something that is not JSON "
            f"({response.headers.get('content-type', 'no content type')}): is the URL the API's?"
        ) from None


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def _message(response: httpx.Response) -> str:
    """The tool's own words, from the JSON error shapes the vendors use, else the body's start."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "errors"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value
            if value:
                return str(value)[:300]
    return str(body)[:200]


class FileReader:
    """A folder of the API's answers: ``GET /api/v1/users/`` reads ``DIR/api/v1/users.json``.
    A list's file holds the list's whole answer (one page, every item)."""

    follows_pages = False

    def __init__(self, title: str, folder: str | Path) -> None:
        self.title = title
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ImportFailed(f"{self.folder}: no such folder (it should hold {title}'s JSON)")

    def file(self, path: str) -> Path:
        if path.startswith(("http://", "https://")):
            path = urlsplit(path).path
        parts = [p for p in path.strip("/").split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise ImportFailed(f"{self.title}: cannot map {path!r} to a file")
        return self.folder.joinpath(*parts[:-1], f"{parts[-1]}.json")

    async def get(self, path: str, params: Params | None = None) -> Any:
        file = self.file(path)
        try:
            content = file.read_bytes()
        except FileNotFoundError:
            raise ImportFailed(
                f"{file}: missing (it should hold {self.title}'s answer to GET {_path(path)})"
            ) from None
        except OSError as exc:
            raise ImportFailed(f"{file}: cannot read it ({exc.strerror or exc})") from None
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise ImportFailed(f"{file}: not JSON ({exc})") from None
