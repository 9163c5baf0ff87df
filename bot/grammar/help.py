"""What `/help` says: the commands a person may run, grouped by topic, and one command in full.

The overview is one line per command: its usage as people type it, the first clause of its
summary in the reader's language, and its first example. The details of one command explain
every argument and flag, name its aliases and give its examples. Argument texts come from the
spec, or else from the catalogue (``help.arg.<name>``, ``help.flag.<name>``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta

from bot.grammar.spec import TOPICS, Arg, CommandSpec
from bot.i18n import t
from bot.settings.durations import format_duration
from bot.texts import CATALOGUE

_CLAUSE = re.compile(r"[;；]")


def help_lines(
    specs: Mapping[str, CommandSpec], lang: str, allowed: Callable[[CommandSpec], bool]
) -> list[str]:
    """The commands the person may run: a title per topic, then one line per command, sorted
    by name within the topic; no topic without commands."""
    unique = {spec.name: spec for spec in specs.values() if allowed(spec)}
    lines: list[str] = []
    for topic in (*TOPICS, ""):
        found = sorted(
            (spec for spec in unique.values() if spec.topic == topic), key=lambda s: s.name
        )
        if found:
            lines.append(t(f"help.topic.{topic or 'other'}", lang))
            lines += [f"  {overview(spec, lang)}" for spec in found]
    return lines


def overview(spec: CommandSpec, lang: str) -> str:
    """``/ack <incident> — Acknowledge an incident: you are on it. e.g. /ack 42``."""
    summary = short_summary(spec.summary(lang))
    if not spec.examples:
        return t("help.line_plain", lang, usage=spec.usage(lang), summary=summary)
    return t("help.line", lang, usage=spec.usage(lang), summary=summary, example=spec.examples[0])


def short_summary(summary: str) -> str:
    """The first clause of a summary, ending as a sentence does (``。`` in Chinese)."""
    first = _CLAUSE.split(summary, maxsplit=1)[0].strip()
    if first == summary.strip():
        return first
    chinese = any("\u4e00" <= char <= "\u9fff" for char in first)
    return first + ("。" if chinese else ".")


def details(spec: CommandSpec, lang: str) -> list[str]:
    """For ``/help deploy``: usage, summary, each argument and flag explained, aliases, examples."""
    lines = [t("grammar.usage", lang, usage=spec.usage(lang)), spec.summary(lang)]
    explained = [*(_argument(arg, lang) for arg in spec.args), *_flags(spec.flags, lang)]
    if explained:
        lines += [t("help.arguments", lang), *explained]
    if spec.aliases:
        names = t("grammar.list_separator", lang).join(f"/{alias}" for alias in spec.aliases)
        lines.append(t("help.aliases", lang, aliases=names))
    if spec.examples:
        lines += [t("help.examples", lang), *(f"  {example}" for example in spec.examples)]
    return lines


def _argument(arg: Arg, lang: str) -> str:
    text = arg.help(lang) or _catalogue(f"help.arg.{arg.name}", lang)
    if arg.kind == "choice" and not text:
        many = len(arg.choices) > 1
        text = t("help.one_of", lang, choices=" | ".join(arg.choices)) if many else ""
        text = text or t("help.literal", lang)
    if arg.default not in (None, ""):
        default = arg.default
        shown = format_duration(default) if isinstance(default, timedelta) else str(default)
        text = t("help.with_default", lang, text=text, default=shown) if text else shown
    if not arg.required and not text:
        text = t("help.optional", lang)
    return f"  {arg.usage(lang)} — {text}" if text else f"  {arg.usage(lang)}"


def _flags(flags: Iterable[str], lang: str) -> list[str]:
    return [f"  --{flag} — {_catalogue(f'help.flag.{flag}', lang)}".rstrip(" —") for flag in flags]


def _catalogue(key: str, lang: str) -> str:
    return t(key, lang) if key in CATALOGUE else ""
