"""`GrammarError`: a command that does not fit its grammar, worded for the user."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.errors import CommandError
from bot.i18n import t


class GrammarError(CommandError):
    """A command that does not fit its grammar; `message` is ready to show, in `lang`.

    `key` and `params` name the catalogue entry; `usage` is the command's usage line (or None when
    the command is unknown); `suggestions` are the closest valid spellings, e.g. for buttons.
    """

    def __init__(
        self,
        key: str,
        lang: str,
        params: Mapping[str, Any] | None = None,
        *,
        usage: str | None = None,
        suggestions: Sequence[str] = (),
    ) -> None:
        self.key = key
        self.lang = lang
        self.params = dict(params or {})
        self.usage = usage
        self.suggestions = tuple(suggestions)
        message = t(key, lang, **self.params)
        if usage is not None:
            message += "\n" + t("grammar.usage", lang, usage=usage)
        super().__init__(message)
