"""`parse`: words against specs, with helpful errors and suggestions."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, NoReturn

from bot.grammar.errors import GrammarError
from bot.grammar.lexer import SLASHES, Token, check_closed, lex
from bot.grammar.spec import DURATION_MAX, Arg, CommandSpec, ParsedCommand, Vocabulary
from bot.i18n import t
from bot.settings.durations import parse_duration
from bot.texts import CATALOGUE

_KEY = re.compile(r"(?:--|——|—)?([A-Za-z_][\w-]*)=")
_FLAG = re.compile(r"(?:--|——|—)(\S+)")
_INT = re.compile(r"[+-]?\d+")
MESSAGE_MAX = 4000
"""The longest command text parsed, in characters."""
_SHOWN = 40
"""How much of a bad value an error message repeats."""
_LINES = frozenset("\n\t")
"""The only control characters a rest-of-line argument may hold."""


def parse(
    text: str, specs: Mapping[str, CommandSpec], vocab: Vocabulary, lang: str
) -> ParsedCommand:
    """Parse ``"deploy orders v1.4.2 prod"`` (a leading slash is allowed) against `specs`."""
    body = text.strip()
    if len(body) > MESSAGE_MAX:
        raise GrammarError("grammar.too_long", lang, {"max": MESSAGE_MAX})
    body = body[1:] if body.startswith(SLASHES) else body
    tokens = lex(body)
    first = next(tokens, None)
    if first is None:
        raise GrammarError("grammar.empty", lang)
    check_closed(first, lang)
    spec = _find_command(first.text, specs, lang)
    raw, flags = _Binder(spec, body, lang).bind(tokens)
    args = {arg.name: _convert(arg, raw[arg.name], spec, vocab, lang) for arg in spec.args}
    return ParsedCommand(spec, args, frozenset(flags), text)


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

    def bind(self, tokens: Iterator[Token]) -> tuple[dict[str, str | None], set[str]]:
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
                check_closed(token, self.lang, self.usage)
                self._set(self._arg_for_key(key.group(1)), token.text[key.end() :])
            elif (flag := _FLAG.fullmatch(token.text)) and plain and not literal:
                self._flag(flag.group(1))
            elif self._positional(token, tokens):
                break
        missing = [
            a.shown(self.lang) for a in self.spec.args if a.required and self.raw[a.name] is None
        ]
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

    def _declared_flag(self, token: Token) -> str | None:
        """The flag `token` names when it is one of the command's, written plainly."""
        flag = _FLAG.fullmatch(token.text)
        if flag is None or token.first_quote is not None:
            return None
        wanted = {name.casefold(): name for name in self.spec.flags}
        return wanted.get(flag.group(1).casefold())

    def _arg_for_key(self, key: str) -> Arg:
        name = key.casefold().replace("-", "_")
        if name not in self.by_name:
            close = [f"{k}=" for k in _closest(name, list(self.by_name))]
            _unknown("grammar.unknown_key", self.lang, self.usage, close, key=key)
        return self.by_name[name]

    def _positional(self, token: Token, after: Iterator[Token]) -> bool:
        """Fill the next free positional slot; True when a rest argument took the remainder
        (all but the command's own flags at its end: ``/deploy orders v2 prod --dry-run``)."""
        free = [a for a in self.spec.args if not a.keyword and self.raw[a.name] is None]
        if not free or free[0].kind != "rest":
            check_closed(token, self.lang, self.usage)
        if not free:
            _fail("grammar.extra_arg", self.lang, self.usage, (), value=token.text)
        if free[0].kind != "rest":
            self._set(free[0], token.text)
            return False
        end = len(self.body)
        trailing = list(after)
        while trailing and (flag := self._declared_flag(trailing[-1])):
            self.flags.add(flag)
            end = trailing.pop().start
        remainder = self.body[token.start : end].rstrip()
        whole = remainder == self.body[token.start : token.end]
        quoted = whole and token.first_quote == 0 and token.unterminated is None
        self._set(free[0], token.text if quoted and len(token.parts) == 1 else remainder)
        return True

    def _set(self, arg: Arg, value: str) -> None:
        if self.raw[arg.name] is not None:
            _fail("grammar.duplicate_arg", self.lang, self.usage, (), arg=arg.shown(self.lang))
        self.raw[arg.name] = value


def _convert(arg: Arg, value: str | None, spec: CommandSpec, vocab: Vocabulary, lang: str) -> Any:
    if value is None:
        return arg.default
    usage, params = spec.usage(lang), {"arg": arg.shown(lang), "value": value}
    if value == "":
        _fail("grammar.empty_value", lang, usage, (), **params)
    allowed = _LINES if arg.kind == "rest" else frozenset()
    if any(_control(c) and c not in allowed for c in value):
        _fail("grammar.control_char", lang, usage, (), **params)
    if len(value) > arg.longest:
        _fail("grammar.too_long_value", lang, usage, (), max=arg.longest, **params)
    if arg.kind == "int":
        number = whole_number(value)
        if number is None:
            _fail("grammar.bad_int", lang, usage, (), **params)
        if not arg.minimum <= number <= arg.maximum:
            _fail("grammar.int_range", lang, usage, (), min=arg.minimum, max=arg.maximum, **params)
        _check_vocab(arg, str(number), vocab, lang, usage)
        return number
    if arg.kind == "duration":
        try:
            duration = parse_duration(value)
        except (ValueError, OverflowError):
            _fail("grammar.bad_duration", lang, usage, (), **params)
        if not timedelta(0) < duration <= DURATION_MAX:
            _fail("grammar.duration_range", lang, usage, (), max=DURATION_MAX.days, **params)
        return duration
    if arg.kind == "choice":
        if (hit := _canonical(value, arg.choices)) is None:
            close = _closest(value, arg.choices)
            _fail(
                "grammar.bad_choice", lang, usage, close, choices=_join(arg.choices, lang), **params
            )
        return hit
    if arg.kind == "word" and not arg.fits(value):
        _fail(arg.pattern_key, lang, usage, (), **params)
    return _check_vocab(arg, value, vocab, lang, usage)


def whole_number(text: str) -> int | None:
    """``42``, ``#42`` or full-width ``４２`` as an int; None for anything else (``4 2``,
    ``42\\n``, ``²``). The caller checks the range."""
    digits = text.removeprefix("#")
    if not _INT.fullmatch(digits):
        return None
    try:
        return int(digits)
    except ValueError:  # a digit int() does not take, or too many
        return None


def _control(char: str) -> bool:
    return unicodedata.category(char) == "Cc"


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
    for name in ("value", "command", "flag", "key"):
        if isinstance(params.get(name), str):
            params[name] = shown(params[name])
    raise GrammarError(key, lang, params, usage=usage, suggestions=close)


def shown(value: str) -> str:
    """`value` as an error message repeats it: control characters spelled out (``\\n``),
    at most a few dozen characters."""
    text = "".join(repr(c)[1:-1] if _control(c) else c for c in value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
