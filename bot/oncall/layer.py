"""One layer of a schedule: a rotation's turns, kept inside its restriction windows."""

from __future__ import annotations

from datetime import datetime

from bot.oncall.model import Segment, span
from bot.oncall.restrict import windows
from bot.oncall.rotation import Turns
from bot.oncall.segments import tile, within
from bot.settings.oncall import Rotation


def layer_segments(
    rotation: Rotation, default_zone: str, start: datetime, end: datetime
) -> list[Segment]:
    """Who the rotation has on call over [start, end): segments tiling the range exactly, with
    nobody outside the restriction windows; neighbours with the same person are merged."""
    start, end = span(start, end)
    turns = Turns(rotation, default_zone)
    pieces = list(turns.between(start, end))
    if rotation.restrictions:
        pieces = within(pieces, windows(rotation.restrictions, turns.zone, start, end))
    return tile(pieces, start, end)
