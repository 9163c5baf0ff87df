"""RFC 5545 text: TEXT escaping, 75-octet line folding, unfolding and content-line parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LIMIT = 75
_NAME = re.compile(r"[A-Za-z0-9-]+")
_VALUE = r'(?:"[^"]*"|[^";:,]*)'
_PARAM = re.compile(rf"([A-Za-z0-9-]+)=({_VALUE}(?:,{_VALUE})*)")
_ESCAPED = re.compile(r"\\(.)")


def escape(text: str) -> str:
    """A TEXT value: backslash, semicolon, comma and line breaks escaped."""
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def unescape(text: str) -> str:
    """The text a TEXT value stands for."""
    return _ESCAPED.sub(lambda m: "\n" if m[1] in "nN" else m[1], text)


def fold(line: str) -> str:
    """`line` split into CRLF-joined pieces of at most 75 octets, continuations starting with a
    space; a UTF-8 character is never split."""
    pieces: list[str] = []
    current, size, limit = "", 0, _LIMIT
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append(current)
            current, size, limit = " ", 1, _LIMIT
        current += char
        size += width
    pieces.append(current)
    return "\r\n".join(pieces)


def unfold(text: str) -> list[tuple[int, str]]:
    """Logical lines with the number of the physical line each starts on; blank lines dropped."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(re.split(r"\r\n|\n|\r", text), start=1):
        if raw[:1] in (" ", "\t"):
            if not lines:
                raise ValueError(f"line {number}: continuation line with nothing to continue")
            first, previous = lines[-1]
            lines[-1] = (first, previous + raw[1:])
        elif raw:
            lines.append((number, raw))
    return lines


@dataclass(frozen=True, slots=True)
class ContentLine:
    """`NAME;PARAM=value:value`, the name and parameter names upper-cased."""

    number: int
    name: str
    params: dict[str, str]
    value: str


def parse_line(number: int, text: str) -> ContentLine:
    """One unfolded content line; ValueError naming the line when it is not one."""
    match = _NAME.match(text)
    if not match:
        raise ValueError(f"line {number}: expected a property name, got {text[:40]!r}")
    name, pos, params = match[0].upper(), match.end(), {}
    while pos < len(text) and text[pos] == ";":
        param = _PARAM.match(text, pos + 1)
        if not param:
            raise ValueError(f"line {number}: malformed parameter in {text[:60]!r}")
        value = param[2]
        if len(value) >= 2 and value[0] == value[-1] == '"' and value.count('"') == 2:
            value = value[1:-1]
        params[param[1].upper()] = value
        pos = param.end()
    if pos >= len(text) or text[pos] != ":":
        raise ValueError(f"line {number}: expected ':' after the property name in {text[:60]!r}")
    return ContentLine(number, name, params, text[pos + 1 :])
