"""PagerDuty's REST API v2 answer shapes: a list answers ``{"<things>": [...], "limit": L,
"offset": O, "more": true|false, "total": null}`` ("classic" pagination); the next page is
asked for with ``offset`` moved past the items already read, until ``more`` is false. A single
object answers ``{"<thing>": {...}}``."""

from __future__ import annotations

from typing import Any

from bot.migrate.reader import ImportFailed, Params, Reader
from bot.migrate.shape import arr, obj

MAX_PAGES = 1000
"""A list longer than this many pages is taken for an API that never says ``more: false``."""

PAGE_SIZE = 100
"""Items asked for per page: PagerDuty's largest ``limit``."""


async def item(reader: Reader, path: str, key: str, params: Params | None = None) -> dict[str, Any]:
    """The object under `key` in the answer to ``GET path``."""
    answer = obj(await reader.get(path, params), path)
    return obj(answer.get(key), f"{path}: {key}")


async def listing(
    reader: Reader, path: str, key: str, params: Params | None = None
) -> list[dict[str, Any]]:
    """Every item of the list under `key`, page after page (a folder of files holds the whole
    list in one file, so its ``more`` is not followed)."""
    items: list[dict[str, Any]] = []
    offset = 0
    for _page in range(MAX_PAGES):
        asked = {**(params or {}), "limit": PAGE_SIZE, "offset": offset}
        answer = obj(await reader.get(path, asked), _where(path, offset))
        page = arr(answer.get(key), f"{_where(path, offset)}: {key}")
        start = len(items)
        for number, entry in enumerate(page):
            items.append(obj(entry, f"{_where(path, offset)}: {key}[{start + number}]"))
        if not reader.follows_pages or not _more(answer, _where(path, offset)):
            return items
        if not page:
            raise ImportFailed(f"{_where(path, offset)}: says there is more but gave no {key}")
        offset += len(page)
    raise ImportFailed(f"{path}: more than {MAX_PAGES} pages; does the API ever say more: false?")


def _more(answer: dict[str, Any], where: str) -> bool:
    more = answer.get("more", False)
    if not isinstance(more, bool):
        raise ImportFailed(f"{where}: more: expected true/false, found {more!r}")
    return more


def _where(path: str, offset: int) -> str:
    return path if offset == 0 else f"{path} (offset {offset})"


def reference(value: Any, where: str) -> str:
    """The id of a ``{"id": …, "type": "…_reference"}`` object."""
    found = obj(value, where).get("id")
    if not isinstance(found, str) or not found:
        raise ImportFailed(f"{where}.id: expected an id, found {found!r}")
    return found


def summary(value: dict[str, Any]) -> str:
    """A reference's display name, when PagerDuty gives one."""
    text = value.get("summary") or value.get("name") or ""
    return text if isinstance(text, str) else ""
