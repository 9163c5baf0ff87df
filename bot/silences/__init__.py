"""Silences kept in Alertmanager for incidents whose alerts come from it.

A Silence on a card (or /silence) asks for them (`asking`), the silence pass makes them real or
expires them through the source's API (`push`), silences made in Alertmanager itself are found
by polling (`found`), and the card says what Alertmanager holds (`view`). Which matchers: the
group's common labels when they are exact, else one silence per alert (`choice`).
"""

from bot.silences.asking import Asking
from bot.silences.choice import MAX_SILENCES, Choice, choose
from bot.silences.push import SilencePush
from bot.silences.rows import comment_for, made_by_tocsin
from bot.silences.view import SilenceView, silence_lines, silence_view

__all__ = [
    "MAX_SILENCES",
    "Asking",
    "Choice",
    "SilencePush",
    "SilenceView",
    "choose",
    "comment_for",
    "made_by_tocsin",
    "silence_lines",
    "silence_view",
]
