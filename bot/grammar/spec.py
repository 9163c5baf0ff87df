"""The declarations: `Arg`, `CommandSpec` and what `parse` returns, `ParsedCommand`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from bot.settings.durations import parse_duration
from bot.texts import CATALOGUE

Kind = Literal["word", "int", "duration", "choice", "rest"]
Vocabulary = Mapping[str, Sequence[str]]

_KINDS = ("word", "int", "duration", "choice", "rest")

BIGINT_MAX = 2**63 - 1
"""The largest id the database stores (BIGINT): no number argument goes above it."""
WORD_MAX, REST_MAX = 128, 2000
"""Default longest word argument, and longest rest-of-line argument, in characters."""
DURATION_MAX = timedelta(days=366)
TOPICS = ("incidents", "deploys", "oncall", "you")
"""The topics `/help` groups commands by, in its order."""
_ARG_NAME = re.compile(r"[a-z][a-z0-9_]*")
_FLAG_NAME = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class Arg:
    """One argument. A str `default` of an int/duration argument is converted at definition."""

    name: str
    kind: Kind = "word"
    required: bool = True
    default: Any = None
    choices: tuple[str, ...] = ()
    help_en: str = ""
    help_zh: str = ""
    keyword: bool = False
    choices_from: str | None = None
    pattern: str | None = None
    """A word must match it whole (`re.fullmatch`); `pattern_key` names the error text, which
    gets ``{arg}`` and ``{value}``."""
    pattern_key: str = "grammar.bad_word"
    max_len: int | None = None
    """Longest word or rest value (default `WORD_MAX`, `REST_MAX`)."""
    minimum: int = 1
    maximum: int = BIGINT_MAX
    """Bounds of an int argument (ids are BIGINT and start at 1)."""
    label: str = ""
    """How usage shows the argument when its name does not say it, brackets included, e.g.
    ``[environment] [key=value…]`` for a rest-of-line argument; `label_zh` in Chinese."""
    label_zh: str = ""

    def __post_init__(self) -> None:
        problems = [
            (not _ARG_NAME.fullmatch(self.name), "name must be lowercase ascii, e.g. 'to'"),
            (self.kind not in _KINDS, f"kind must be one of {_KINDS}"),
            ((self.kind == "choice") != bool(self.choices), "choices go with kind 'choice'"),
            (
                self.choices_from is not None and self.kind not in ("word", "int"),
                "choices_from needs kind word/int",
            ),
            (self.required and self.default is not None, "a required arg has no default"),
            (
                self.kind == "choice" and self.default not in (None, *self.choices),
                "the default must be one of the choices",
            ),
            (self.kind == "rest" and self.keyword, "a rest arg cannot be keyword-only"),
            (self.pattern is not None and self.kind != "word", "a pattern goes with kind 'word'"),
            (not self.minimum <= self.maximum <= BIGINT_MAX, "minimum <= maximum <= BIGINT"),
        ]
        for failed, problem in problems:
            if failed:
                raise ValueError(f"Arg {self.name!r}: {problem}")
        if isinstance(self.default, str) and self.kind == "duration":
            object.__setattr__(self, "default", parse_duration(self.default))
        elif isinstance(self.default, str) and self.kind == "int":
            object.__setattr__(self, "default", int(self.default))

    @property
    def longest(self) -> int:
        return self.max_len or (REST_MAX if self.kind == "rest" else WORD_MAX)

    def fits(self, value: str) -> bool:
        """Whether a word matches `pattern` whole (a trailing newline does not)."""
        return self.pattern is None or re.fullmatch(self.pattern, value) is not None

    @property
    def placeholder(self) -> str:
        """``<incident>``, ``<fast|safe>`` or ``<text...>``: the argument named in English."""
        if self.kind == "choice":
            return "<" + "|".join(self.choices) + ">"
        return f"<{self.name}...>" if self.kind == "rest" else f"<{self.name}>"

    def shown(self, lang: str) -> str:
        """How an error message names the argument: ``<incident>``, ``<事件编号>``, ``zh|en``."""
        if self.kind == "choice":
            return "|".join(self.choices)
        return f"<{_named(self.name, lang)}{'…' if self.kind == 'rest' else ''}>"

    def usage(self, lang: str = "en") -> str:
        """The argument as people type it: ``<incident>``, ``[duration]``, ``[reason…]``,
        ``[to=…]``, ``zh|en``; a choice of one word is that word (``rollback``). In Chinese the
        placeholder is named in Chinese (``<事件编号>``, from ``help.name.<name>``)."""
        if label := (self.label_zh if lang == "zh" else "") or self.label:
            return label
        if self.kind == "choice":
            text = "|".join(self.choices)
        elif self.keyword:
            text = f"{self.name}=…"
        else:
            text = _named(self.name, lang) + ("…" if self.kind == "rest" else "")
            text = f"<{text}>" if self.required else text
        return text if self.required else f"[{text}]"

    def help(self, lang: str) -> str:
        return (self.help_zh if lang == "zh" else "") or self.help_en


@dataclass(frozen=True)
class CommandSpec:
    name: str
    args: tuple[Arg, ...]
    permission: str
    summary_en: str
    summary_zh: str
    aliases: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    topic: str = ""
    """Where `/help` lists the command: one of `TOPICS` (empty: with the others, last)."""
    examples: tuple[str, ...] = ()
    """One to three commands as people type them, e.g. ``/ack 42``; the first is the one
    `/help` shows beside the command."""

    def __post_init__(self) -> None:
        for word in (self.name, *self.aliases):
            if not word or word != word.casefold() or any(c.isspace() for c in word):
                raise ValueError(f"command {word!r}: lowercase, one word, no spaces")
        names = [arg.name for arg in self.args]
        if len(set(names)) != len(names):
            raise ValueError(f"command {self.name!r}: duplicate argument names {names}")
        if not all(_FLAG_NAME.fullmatch(flag) for flag in self.flags):
            raise ValueError(f"command {self.name!r}: flags are written without '--': {self.flags}")
        positional = [arg for arg in self.args if not arg.keyword]
        if any(arg.kind == "rest" for arg in positional[:-1]):
            raise ValueError(f"command {self.name!r}: a rest argument must be the last")
        kinds = [arg.required for arg in positional]
        if kinds != sorted(kinds, reverse=True):
            raise ValueError(f"command {self.name!r}: required arguments go before optional ones")
        if self.topic and self.topic not in TOPICS:
            raise ValueError(f"command {self.name!r}: topic must be one of {TOPICS}")
        if len(self.examples) > 3 or not all(e.startswith("/") for e in self.examples):
            raise ValueError(f"command {self.name!r}: at most 3 examples, each starting with /")

    def usage(self, lang: str) -> str:
        """``/silence <incident> [duration] [--dry-run]``: as people type it; in Chinese the
        placeholders are Chinese words (``/silence <事件编号> [时长]``)."""
        parts = [f"/{self.name}", *(arg.usage(lang) for arg in self.args)]
        return " ".join(parts + [f"[--{flag}]" for flag in self.flags])

    def summary(self, lang: str) -> str:
        return (self.summary_zh if lang == "zh" else "") or self.summary_en

    def details(self, lang: str) -> list[str]:
        """For ``/help <command>``: usage, summary, each argument and flag, aliases, examples."""
        from bot.grammar.help import details

        return details(self, lang)


def _named(name: str, lang: str) -> str:
    """An argument's name as usage shows it in `lang` (``help.name.<name>``, else the name)."""
    entry = CATALOGUE.get(f"help.name.{name}", {})
    return entry.get(lang) or name


@dataclass(frozen=True)
class ParsedCommand:
    spec: CommandSpec
    args: dict[str, Any]
    flags: frozenset[str]
    raw: str
