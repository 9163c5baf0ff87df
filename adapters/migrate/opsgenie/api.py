"""Opsgenie's answer shapes: every answer is ``{"data": …, "took": …, "requestId": …}``, and
the lists that page (users) add ``paging.next``, a full URL to the next page."""

from __future__ import annotations

from typing import Any

from bot.migrate.reader import ImportFailed, Params, Reader
from bot.migrate.shape import arr, obj

MAX_PAGES = 1000
"""A list longer than this many pages is taken for a loop in the API's next links."""

PAGE_SIZE = 100
"""Items asked for per page (Opsgenie allows up to 500 for users)."""


async def data(reader: Reader, path: str, params: Params | None = None) -> Any:
    """The ``data`` of the answer to ``GET path``."""
    answer = obj(await reader.get(path, params), path)
    if "data" not in answer:
        raise ImportFailed(f"{path}: the answer has no data")
    return answer["data"]


async def listing(reader: Reader, path: str, params: Params | None = None) -> list[Any]:
    """Every item of a list, following ``paging.next`` page after page (a folder of files holds
    the whole list in one file, so only the API's pages are followed)."""
    items: list[Any] = []
    answer = await reader.get(path, params)
    where = path
    for page in range(1, MAX_PAGES + 1):
        body = obj(answer, where)
        items.extend(arr(body.get("data"), f"{where}.data"))
        link = _next(body, where)
        if link is None or not reader.follows_pages:
            return items
        where = f"{path} (page {page + 1})"
        answer = await reader.get(link)
    raise ImportFailed(f"{path}: more than {MAX_PAGES} pages; is the API's next link looping?")


def _next(body: dict[str, Any], where: str) -> str | None:
    paging = body.get("paging")
    if paging is None:
        return None
    link = obj(paging, f"{where}.paging").get("next")
    if link is None or link == "":
        return None
    if not isinstance(link, str):
        raise ImportFailed(f"{where}.paging.next: expected a link, found {type(link).__name__}")
    return link
