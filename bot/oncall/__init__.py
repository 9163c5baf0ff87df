"""On-call maths, pure functions of the settings and the time asked about: who is on call,
when, and the iCal form of a schedule."""

from bot.oncall.layer import layer_segments
from bot.oncall.model import Override, Segment
from bot.oncall.timeline import gaps, next_on_call, on_call, shifts_of, timeline

__all__ = [
    "Override",
    "Segment",
    "gaps",
    "layer_segments",
    "next_on_call",
    "on_call",
    "shifts_of",
    "timeline",
]
