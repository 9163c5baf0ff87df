"""Grafana OnCall's list answers: ``{"count", "next", "previous", "results", "page_size",
"current_page_number", "total_pages"}``, where ``next`` is the full URL of the next page."""

from __future__ import annotations

from typing import Any

from bot.migrate.reader import ImportFailed, Params, Reader
from bot.migrate.shape import arr, obj

MAX_PAGES = 1000
"""A list longer than this many pages is taken for a loop in the API's next links."""

Found = tuple[dict[str, Any], str]
"""An object of a list and the JSON path it came from, for error messages."""


async def listing(reader: Reader, path: str, params: Params | None = None) -> list[Found]:
    """Every object of the list at `path`, following ``next`` links while the reader does
    (a folder of files holds each list whole, in one file)."""
    found: list[Found] = []
    url: str | None = path
    page = 1
    while url is not None:
        if page > MAX_PAGES:
            raise ImportFailed(f"{path}: more than {MAX_PAGES} pages, giving up")
        answer = obj(await reader.get(url, params if page == 1 else None), f"{path} page {page}")
        where = f"{path} page {page}.results"
        for index, item in enumerate(arr(answer.get("results"), where)):
            found.append((obj(item, f"{where}[{index}]"), f"{where}[{index}]"))
        url = _next(answer, f"{path} page {page}") if reader.follows_pages else None
        page += 1
    return found


def _next(answer: dict[str, Any], where: str) -> str | None:
    link = answer.get("next")
    if link is None or (isinstance(link, str) and link):
        return link
    raise ImportFailed(f"{where}.next: expected a link or null, found {link!r}")
