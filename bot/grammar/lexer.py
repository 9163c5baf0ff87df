"""Finding the command in a chat message, and splitting it into words like a shell."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from bot.grammar.errors import GrammarError

_SLACK_MENTION = re.compile(r"<@[^>\s]+>")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "「": "」", "＂": "＂"}
_SEPARATORS = ":：,，"
SLASHES = ("/", "／")
_ASKS_FOR_HELP = re.compile(r"[/／]?\s*(?:help|帮助)\s*[?？]?", re.IGNORECASE)


@dataclass
class Token:
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
    if rest.startswith(SLASHES):
        return rest[1:].lstrip()
    return rest if addressed else None


def asks_for_help(text: str) -> bool:
    """Whether `text` is only ``help`` or ``帮助`` (any case, a slash and one ``?`` allowed):
    in a direct chat, that is a request for `/help` even without the slash."""
    return _ASKS_FOR_HELP.fullmatch(text.replace("\u3000", " ").strip()) is not None


def _mention_size(text: str, names: Sequence[str]) -> int:
    for name in names:
        after = text[len(name) : len(name) + 1]
        if text[: len(name)].casefold() == name and (
            not after or after.isspace() or after in _SEPARATORS or after in SLASHES
        ):
            return len(name)
    return 0


def tokenize(text: str, lang: str = "en") -> list[str]:
    """Split like a shell: "…", '…', “…” (and ‘…’, 「…」) keep spaces; no backslash escapes.

    A quote opens only at the start of a word or after ``=``, so "don't" is one word.
    """
    tokens = list(lex(text))
    for token in tokens:
        check_closed(token, lang)
    return [token.text for token in tokens]


def lex(text: str) -> Iterator[Token]:
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return
        token = Token("", pos, pos)
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


def check_closed(token: Token, lang: str, usage: str | None = None) -> None:
    if token.unterminated is not None:
        params = {"quote": token.unterminated, "close": _QUOTES[token.unterminated]}
        raise GrammarError("grammar.unterminated_quote", lang, params, usage=usage)
