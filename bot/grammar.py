"""The declarative command grammar: `CommandSpec`s in, `ParsedCommand` or `GrammarError` out.

Pure and synchronous. The flow for one chat message is::

    body = split_command(text, bot_names)      # None: chatter not addressed to the bot
    cmd = parse(body, specs, vocab, lang)      # GrammarError: text for the user, in `lang`

Rules of `parse`:

- the first word names the command or an alias, case-insensitively;
- positional arguments fill the declared order; any argument may also be given as ``name=value``
  anywhere, and `keyword` arguments only that way; ``--flag`` only if the spec declares it;
  a lone ``--`` makes every later word positional, and a quoted word is never a flag or option;
- a ``rest`` argument takes the remainder of the line verbatim (one fully quoted word is unquoted),
  so flags and options go before it;
- ``int`` accepts ``#42`` and full-width digits, ``duration`` uses `parse_duration`; ``choice``
  and vocabularies (`Arg.choices_from`) match case-insensitively and yield the canonical spelling.
  A vocabulary the caller does not provide is not checked.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, NoReturn

from bot.errors import CommandError
from bot.i18n import t
from bot.settings.durations import format_duration, parse_duration
from bot.texts import CATALOGUE

Kind = Literal["word", "int", "duration", "choice", "rest"]
Vocabulary = Mapping[str, Sequence[str]]

_KINDS = ("word", "int", "duration", "choice", "rest")
_ARG_NAME = re.compile(r"[a-z][a-z0-9_]*")
_FLAG_NAME = re.compile(r"[a-z][a-z0-9-]*")
_KEY = re.compile(r"(?:--|——|—)?([A-Za-z_][\w-]*)=")
_FLAG = re.compile(r"(?:--|——|—)(\S+)")
_INT = re.compile(r"[+-]?\d+")
_SLACK_MENTION = re.compile(r"<@[^>\s]+>")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "「": "」", "＂": "＂"}
_SEPARATORS = ":：,，"
_SLASHES = ("/", "／")


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
        ]
        for failed, problem in problems:
            if failed:
                raise ValueError(f"Arg {self.name!r}: {problem}")
        if isinstance(self.default, str) and self.kind == "duration":
            object.__setattr__(self, "default", parse_duration(self.default))
        elif isinstance(self.default, str) and self.kind == "int":
            object.__setattr__(self, "default", int(self.default))

    @property
    def placeholder(self) -> str:
        """``<incident>``, ``<fast|safe>`` or ``<text...>``: how the value is shown in usage."""
        if self.kind == "choice":
            return "<" + "|".join(self.choices) + ">"
        return f"<{self.name}...>" if self.kind == "rest" else f"<{self.name}>"

    def usage(self) -> str:
        if self.default is not None:
            shown = self.default
            if isinstance(shown, timedelta):
                shown = format_duration(shown)
            return f"[{self.name}={shown}]"
        text = f"{self.name}={self.placeholder}" if self.keyword else self.placeholder
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

    def usage(self, lang: str) -> str:
        """``/silence <incident> [duration=30m] [--dry-run]``; the syntax is the same in every
        language because argument names are what people type in ``name=value``."""
        del lang
        parts = [f"/{self.name}", *(arg.usage() for arg in self.args)]
        return " ".join(parts + [f"[--{flag}]" for flag in self.flags])

    def summary(self, lang: str) -> str:
        return (self.summary_zh if lang == "zh" else "") or self.summary_en

    def details(self, lang: str) -> list[str]:
        """For ``/help <command>``: usage, summary, then one line per documented argument."""
        lines = [self.usage(lang), self.summary(lang)]
        lines += [f"  {a.placeholder} — {a.help(lang)}" for a in self.args if a.help(lang)]
        return lines


@dataclass(frozen=True)
class ParsedCommand:
    spec: CommandSpec
    args: dict[str, Any]
    flags: frozenset[str]
    raw: str


@dataclass
class _Token:
    text: str
    start: int
    end: int
    first_quote: int | None = None  # length of `text` produced before the first quoted part
    unterminated: str | None = None  # the opening quote that was never closed
    parts: list[str] = field(default_factory=list)


def split_command(text: str, bot_names: Sequence[str], *, direct: bool = False) -> str | None:
    """Strip the bot's mention and the leading slash; None if the text is not for the bot.

    `direct` says the platform already knows the message is for the bot (a direct message).
    A message that only mentions the bot gives ``""``.
    """
    rest = text.replace("\u3000", " ").strip()
    names = sorted({n.strip().lstrip("@＠").casefold() for n in bot_names} - {""}, key=len)[::-1]
    addressed = direct
    while True:
        if match := _SLACK_MENTION.match(rest):
            rest = rest[match.end() :]
        elif rest[:1] in ("@", "＠") and (size := _mention_size(rest[1:], names)):
            rest = rest[1 + size :]
        else:
            break
        addressed = True
        rest = rest.lstrip().lstrip(_SEPARATORS).lstrip()
    if rest.startswith(_SLASHES):
        return rest[1:].lstrip()
    return rest if addressed else None


def _mention_size(text: str, names: Sequence[str]) -> int:
    for name in names:
        after = text[len(name) : len(name) + 1]
        if text[: len(name)].casefold() == name and (
            not after or after.isspace() or after in _SEPARATORS or after in _SLASHES
        ):
            return len(name)
    return 0


def tokenize(text: str, lang: str = "en") -> list[str]:
    """Split like a shell: "…", '…', “…” (and ‘…’, 「…」) keep spaces; no backslash escapes.

    A quote opens only at the start of a word or after ``=``, so "don't" is one word.
    """
    tokens = list(_lex(text))
    for token in tokens:
        _check_closed(token, lang)
    return [token.text for token in tokens]


def _lex(text: str) -> Iterator[_Token]:
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return
        token = _Token("", pos, pos)
        quote_may_open = True
        while pos < len(text) and not text[pos].isspace():
            char = text[pos]
            if char in _QUOTES and quote_may_open:
                close = text.find(_QUOTES[char], pos + 1)
                if token.first_quote is None:
                    token.first_quote = len("".join(token.parts))
                if close < 0:
                    token.parts.append(text[pos + 1 :])
                    token.unterminated, pos = char, len(text)
                    break
                token.parts.append(text[pos + 1 : close])
                pos = close + 1
            else:
                token.parts.append(char)
                quote_may_open, pos = char == "=", pos + 1
        token.text, token.end = "".join(token.parts), pos
        yield token


def _check_closed(token: _Token, lang: str, usage: str | None = None) -> None:
    if token.unterminated is not None:
        params = {"quote": token.unterminated, "close": _QUOTES[token.unterminated]}
        raise GrammarError("grammar.unterminated_quote", lang, params, usage=usage)


def parse(
    text: str, specs: Mapping[str, CommandSpec], vocab: Vocabulary, lang: str
) -> ParsedCommand:
    """Parse ``"deploy orders v1.4.2 prod"`` (a leading slash is allowed) against `specs`."""
    body = text.strip()
    body = body[1:] if body.startswith(_SLASHES) else body
    tokens = _lex(body)
    first = next(tokens, None)
    if first is None:
        raise GrammarError("grammar.empty", lang)
    _check_closed(first, lang)
    spec = _find_command(first.text, specs, lang)
    raw, flags = _Binder(spec, body, lang).bind(tokens)
    args = {arg.name: _convert(arg, raw[arg.name], spec, vocab, lang) for arg in spec.args}
    return ParsedCommand(spec, args, frozenset(flags), text)


def help_lines(
    specs: Mapping[str, CommandSpec], lang: str, allowed: Callable[[CommandSpec], bool]
) -> list[str]:
    """Lines "usage — summary" for the commands the person may run, sorted by name."""
    unique = {spec.name: spec for spec in specs.values()}
    return [
        f"{spec.usage(lang)} — {spec.summary(lang)}"
        for _, spec in sorted(unique.items())
        if allowed(spec)
    ]


def _find_command(word: str, specs: Mapping[str, CommandSpec], lang: str) -> CommandSpec:
    index: dict[str, CommandSpec] = {}
    for spec in specs.values():
        for name in (spec.name, *spec.aliases):
            if index.setdefault(name, spec) != spec:
                raise ValueError(f"command name {name!r} is used twice")
    if found := index.get(word.casefold()):
        return found
    close = _closest(word, list(index))
    shown = list(dict.fromkeys(f"/{index[name].name}" for name in close))
    _unknown("grammar.unknown_command", lang, None, shown, command=word)


class _Binder:
    """Assigns the words after the command name to arguments and flags, as raw text."""

    def __init__(self, spec: CommandSpec, body: str, lang: str) -> None:
        self.spec, self.body, self.lang = spec, body, lang
        self.usage = spec.usage(lang)
        self.by_name = {arg.name: arg for arg in spec.args}
        self.raw: dict[str, str | None] = dict.fromkeys(self.by_name)
        self.flags: set[str] = set()

    def bind(self, tokens: Iterator[_Token]) -> tuple[dict[str, str | None], set[str]]:
        literal = False
        for token in tokens:
            plain = token.first_quote is None
            if plain and token.text == "--" and not literal:
                literal = True
            elif (
                (key := _KEY.match(token.text))
                and not literal
                and (token.first_quote is None or token.first_quote >= key.end())
            ):
                _check_closed(token, self.lang, self.usage)
                self._set(self._arg_for_key(key.group(1)), token.text[key.end() :])
            elif (flag := _FLAG.fullmatch(token.text)) and plain and not literal:
                self._flag(flag.group(1))
            elif self._positional(token):
                break
        missing = [a.placeholder for a in self.spec.args if a.required and self.raw[a.name] is None]
        if missing:
            which = "grammar.missing_arg" if len(missing) == 1 else "grammar.missing_args"
            _fail(which, self.lang, self.usage, (), args=_join(missing, self.lang))
        return self.raw, self.flags

    def _flag(self, name: str) -> None:
        wanted = {flag.casefold(): flag for flag in self.spec.flags}
        if name.casefold() not in wanted:
            close = [f"--{flag}" for flag in _closest(name, list(wanted))]
            _unknown("grammar.unknown_flag", self.lang, self.usage, close, flag=name)
        self.flags.add(wanted[name.casefold()])

    def _arg_for_key(self, key: str) -> Arg:
        name = key.casefold().replace("-", "_")
        if name not in self.by_name:
            close = [f"{k}=" for k in _closest(name, list(self.by_name))]
            _unknown("grammar.unknown_key", self.lang, self.usage, close, key=key)
        return self.by_name[name]

    def _positional(self, token: _Token) -> bool:
        """Fill the next free positional slot; True when a rest argument took the remainder."""
        free = [a for a in self.spec.args if not a.keyword and self.raw[a.name] is None]
        if not free or free[0].kind != "rest":
            _check_closed(token, self.lang, self.usage)
        if not free:
            _fail("grammar.extra_arg", self.lang, self.usage, (), value=token.text)
        if free[0].kind != "rest":
            self._set(free[0], token.text)
            return False
        remainder = self.body[token.start :].rstrip()
        whole = remainder == self.body[token.start : token.end]
        quoted = whole and token.first_quote == 0 and token.unterminated is None
        self._set(free[0], token.text if quoted and len(token.parts) == 1 else remainder)
        return True

    def _set(self, arg: Arg, value: str) -> None:
        if self.raw[arg.name] is not None:
            _fail("grammar.duplicate_arg", self.lang, self.usage, (), arg=arg.placeholder)
        self.raw[arg.name] = value


def _convert(arg: Arg, value: str | None, spec: CommandSpec, vocab: Vocabulary, lang: str) -> Any:
    if value is None:
        return arg.default
    usage, params = spec.usage(lang), {"arg": arg.placeholder, "value": value}
    if value == "":
        _fail("grammar.empty_value", lang, usage, (), **params)
    if arg.kind == "int":
        digits = value.removeprefix("#")
        try:
            number = int(digits) if _INT.fullmatch(digits) else None
        except ValueError:  # more digits than Python converts
            number = None
        if number is None:
            _fail("grammar.bad_int", lang, usage, (), **params)
        _check_vocab(arg, str(number), vocab, lang, usage)
        return number
    if arg.kind == "duration":
        try:
            return parse_duration(value)
        except (ValueError, OverflowError):
            _fail("grammar.bad_duration", lang, usage, (), **params)
    if arg.kind == "choice":
        if (hit := _canonical(value, arg.choices)) is None:
            close = _closest(value, arg.choices)
            _fail(
                "grammar.bad_choice", lang, usage, close, choices=_join(arg.choices, lang), **params
            )
        return hit
    return _check_vocab(arg, value, vocab, lang, usage)


def _check_vocab(arg: Arg, value: str, vocab: Vocabulary, lang: str, usage: str) -> str:
    if arg.choices_from is None or arg.choices_from not in vocab:
        return value
    known = vocab[arg.choices_from]
    if (hit := _canonical(value, known)) is not None:
        return hit
    noun = f"grammar.vocab.{arg.choices_from}"
    what = t(noun if noun in CATALOGUE else "grammar.vocab.value", lang)
    params: dict[str, Any] = {"what": what, "value": value}
    close = _closest(value, known)
    if not close and 0 < len(known) <= 10:
        _fail("grammar.unknown_value_list", lang, usage, (), known=_join(known, lang), **params)
    _unknown("grammar.unknown_value", lang, usage, close, **params)


def _canonical(value: str, known: Sequence[str]) -> str | None:
    wanted = value.casefold()
    return next((item for item in known if item.casefold() == wanted), None)


def _closest(word: str, candidates: Sequence[str]) -> list[str]:
    folded: dict[str, str] = {}
    for item in candidates:
        folded.setdefault(item.casefold(), item)
    return [folded[m] for m in difflib.get_close_matches(word.casefold(), list(folded), n=3)]


def _join(items: Sequence[str], lang: str) -> str:
    return t("grammar.list_separator", lang).join(items)


def _unknown(
    key: str, lang: str, usage: str | None, close: Sequence[str], /, **params: Any
) -> NoReturn:
    """Fail with `key` listing the close matches, or with ``key_plain`` when there are none."""
    if close:
        _fail(key, lang, usage, close, suggestions=_join(close, lang), **params)
    _fail(key + "_plain", lang, usage, (), **params)


def _fail(
    key: str, lang: str, usage: str | None, close: Sequence[str], /, **params: Any
) -> NoReturn:
    raise GrammarError(key, lang, params, usage=usage, suggestions=close)
