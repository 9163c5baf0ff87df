"""Operations on lists of segments that tile a range: fill, merge, overlay, paint, clip."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.oncall.model import Segment


def push(out: list[Segment], segment: Segment) -> None:
    """Append `segment`, merging it into the last one when they touch and agree."""
    if out:
        last = out[-1]
        if last.end == segment.start and (last.user, last.source) == (
            segment.user,
            segment.source,
        ):
            out[-1] = Segment(last.start, segment.end, last.user, last.source)
            return
    out.append(segment)


def tile(pieces: Iterable[Segment], start: datetime, end: datetime) -> list[Segment]:
    """Sorted, non-overlapping pieces within [start, end), the holes filled with nobody."""
    out: list[Segment] = []
    cursor = start
    for piece in pieces:
        if piece.start > cursor:
            push(out, Segment(cursor, piece.start, None, ""))
        push(out, piece)
        cursor = piece.end
    if cursor < end:
        push(out, Segment(cursor, end, None, ""))
    return out


def within(pieces: Sequence[Segment], ranges: Sequence[tuple[datetime, datetime]]) -> list[Segment]:
    """The parts of sorted `pieces` inside sorted, disjoint `ranges`."""
    out: list[Segment] = []
    i = j = 0
    while i < len(pieces) and j < len(ranges):
        piece, (lo, hi) = pieces[i], ranges[j]
        begin, finish = max(piece.start, lo), min(piece.end, hi)
        if begin < finish:
            out.append(Segment(begin, finish, piece.user, piece.source))
        if piece.end <= hi:
            i += 1
        else:
            j += 1
    return out


def overlay(base: Sequence[Segment], top: Sequence[Segment]) -> list[Segment]:
    """`top` where it has someone, `base` elsewhere; both tile the same range."""
    out: list[Segment] = []
    i = j = 0
    while i < len(base) and j < len(top):
        low, high = base[i], top[j]
        begin, finish = max(low.start, high.start), min(low.end, high.end)
        pick = high if high.user is not None else low
        if begin < finish:
            push(out, Segment(begin, finish, pick.user, pick.source))
        if low.end <= high.end:
            i += 1
        if high.end <= low.end:
            j += 1
    return out


def paint(segments: Sequence[Segment], over: Segment) -> list[Segment]:
    """`over` replacing whatever `segments` hold during it."""
    out: list[Segment] = []
    for segment in segments:
        if segment.start < over.start:
            push(
                out,
                Segment(segment.start, min(segment.end, over.start), segment.user, segment.source),
            )
        if segment.start <= over.start < segment.end:
            push(out, over)
        if segment.end > over.end:
            push(
                out,
                Segment(max(segment.start, over.end), segment.end, segment.user, segment.source),
            )
    return out
