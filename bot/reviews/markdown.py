"""A card as a document: Markdown for a wiki, or plain text (``tocsin incident export``).

A section whose lines all hold the same number of ``" · "`` separators is a table, its first line
the header; a line starting with ``"[ ] "`` or ``"[x] "`` is a checklist item."""

from __future__ import annotations

from bot.model import Card, Section

CELL = " · "


def to_markdown(card: Card) -> str:
    """`card` as Markdown: a heading, the status, the fields as a list, each section under its
    own heading (a table or a list), the links, and the footer in italics."""
    out = [f"# {card.title}", ""]
    if card.badge is not None:
        out += [f"**{card.badge.word}**", ""]
    if card.body:
        out += [card.body, ""]
    if card.fields:
        out += [f"- **{f.label}**: {f.value}" for f in card.fields] + [""]
    for section in card.sections:
        out += [f"## {section.title}", ""]
        out += _table(section) if _is_table(section) else [_item(line) for line in section.lines]
        out.append("")
    if card.links:
        out += [f"- [{link.label}]({link.url})" for link in card.links] + [""]
    if card.footer:
        out += [f"*{card.footer}*", ""]
    return "\n".join(out)


def to_text(card: Card) -> str:
    """`card` as plain text, for a terminal or an e-mail."""
    out = [card.title]
    if card.badge is not None:
        out.append(f"[{card.badge.word}]")
    if card.body:
        out.append(card.body)
    out += [f"{f.label}: {f.value}" for f in card.fields]
    for section in card.sections:
        out += ["", section.title, *(f"  {line}" for line in section.lines)]
    if card.links:
        out += ["", *(f"{link.label}: {link.url}" for link in card.links)]
    if card.footer:
        out += ["", card.footer]
    return "\n".join(out) + "\n"


def _is_table(section: Section) -> bool:
    counts = {line.count(CELL) for line in section.lines}
    return len(section.lines) > 1 and len(counts) == 1 and counts != {0}


def _table(section: Section) -> list[str]:
    header, *rows = (line.split(CELL) for line in section.lines)
    return [
        _row(header),
        "|" + "---|" * len(header),
        *(_row(cells) for cells in rows),
    ]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _item(line: str) -> str:
    return f"- {line}"
