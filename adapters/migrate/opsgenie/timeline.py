"""Who Opsgenie itself puts on call: the schedule timeline API
(`/v2/schedules/{id}/timeline`), whose ``finalTimeline`` holds each rotation's periods with
overrides applied. Rotations are a union in Opsgenie, so periods of different rotations may
overlap; they are all returned."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from adapters.migrate.opsgenie.api import data
from bot.migrate.catalog import Catalog, Shift
from bot.migrate.reader import Params, Reader
from bot.migrate.shape import arr, instant, obj, text

_DAY = timedelta(days=1)


async def read_on_call(
    reader: Reader, catalog: Catalog, schedule: str, start: datetime, end: datetime
) -> list[Shift]:
    path = f"/v2/schedules/{schedule}/timeline"
    days = max(1, math.ceil((end - start) / _DAY))
    params: Params = {
        "identifierType": "id",
        "date": start.isoformat(),
        "interval": days,
        "intervalUnit": "days",
    }
    timeline = obj(await data(reader, path, params), f"{path}.data")
    final = obj(timeline.get("finalTimeline"), f"{path}.data.finalTimeline")
    shifts: list[Shift] = []
    where = f"{path}.data.finalTimeline.rotations"
    for i, raw in enumerate(arr(final.get("rotations", []), where)):
        rotation = obj(raw, f"{where}[{i}]")
        periods = arr(rotation.get("periods", []), f"{where}[{i}].periods")
        for j, period in enumerate(periods):
            here = f"{where}[{i}].periods[{j}]"
            shift = _shift(obj(period, here), catalog, start, end, here)
            if shift is not None:
                shifts.append(shift)
    return sorted(shifts, key=lambda shift: (shift.start, shift.end, shift.person))


def _shift(
    period: dict[str, Any], catalog: Catalog, start: datetime, end: datetime, where: str
) -> Shift | None:
    """The period clipped to [start, end), or None when it is outside or has no person."""
    begin = max(instant(period.get("startDate"), f"{where}.startDate"), start)
    finish = min(instant(period.get("endDate"), f"{where}.endDate"), end)
    recipient = obj(period.get("recipient"), f"{where}.recipient")
    if begin >= finish or text(recipient, "type", f"{where}.recipient") != "user":
        return None
    return Shift(begin, finish, _person(recipient, catalog, f"{where}.recipient"))


def _person(recipient: dict[str, Any], catalog: Catalog, where: str) -> str:
    """The listed person's origin id; the username (an e-mail address) for someone unlisted."""
    found = recipient.get("id")
    if isinstance(found, str) and catalog.person(found) is not None:
        return found
    name = text(recipient, "name", where)
    person = catalog.by_email(name)
    return person.origin if person is not None else name
