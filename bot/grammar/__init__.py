"""The declarative command grammar: `CommandSpec`s in, `ParsedCommand` or `GrammarError` out.

Pure and synchronous. The flow for one chat message is::

    body = split_command(text, bot_names)      # None: chatter not addressed to the bot
    cmd = parse(body, specs, vocab, lang)      # GrammarError: text for the user, in `lang`

`asks_for_help` tells a bare ``help`` / ``帮助`` (no slash needed in a direct chat); `help_lines`
and `details` are what `/help` shows, from each spec's `topic`, `examples` and argument texts.

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

Input rules, each failing with its own `GrammarError` (never an exception of another kind):

- the whole command is at most `MESSAGE_MAX` characters;
- no argument holds a control character (a line break, a tab, NUL, ESC…), except that a ``rest``
  argument may span lines and hold tabs; every value is at most `Arg.longest` characters
  (`WORD_MAX` for words, `REST_MAX` for the rest of a line);
- an ``int`` is digits only (optionally ``#`` and a sign) and lies in ``[minimum, maximum]``,
  by default 1 to `BIGINT_MAX`, so it always fits the database's ids;
- a ``duration`` is more than zero and at most `DURATION_MAX`;
- a ``word`` with a `pattern` matches it whole (`re.fullmatch`: ``"v1.4.2\\n"`` does not);
- vocabularies match the whole value exactly, up to case.
"""

from bot.grammar.errors import GrammarError
from bot.grammar.help import details, help_lines
from bot.grammar.lexer import asks_for_help, split_command, tokenize
from bot.grammar.parser import parse, shown, whole_number
from bot.grammar.spec import (
    BIGINT_MAX,
    TOPICS,
    Arg,
    CommandSpec,
    Kind,
    ParsedCommand,
    Vocabulary,
)

__all__ = [
    "BIGINT_MAX",
    "TOPICS",
    "Arg",
    "CommandSpec",
    "GrammarError",
    "Kind",
    "ParsedCommand",
    "Vocabulary",
    "asks_for_help",
    "details",
    "help_lines",
    "parse",
    "shown",
    "split_command",
    "tokenize",
    "whole_number",
]
