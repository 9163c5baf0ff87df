"""The text catalogue cannot rot: every text in both languages with the same placeholders, no
English left in the Chinese, no key defined twice, none that no code uses."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bot.texts import CATALOGUE, MODULES, merge

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("bot", "commands", "adapters")
SUFFIXES = {".py", ".js", ".html"}

NAMES = {
    # products and platforms
    "Tocsin", "Slack", "DingTalk", "WeCom", "Feishu", "Lark", "Alertmanager", "Grafana",
    "Prometheus", "PromQL", "SMS", "IANA",
    # terms with no better Chinese on an engineer's screen
    "URL", "ID", "UTC", "NaN",
    # ids in examples (services, environments, people) and the scope keyword of /lock
    "orders", "prod", "staging", "alice", "all",
}  # fmt: skip
"""Latin words a Chinese text may hold: names, and the few terms an engineer reads as is."""

NOT_WORDS = [
    re.compile(r"\b[a-z_]+(?:\.[\w{}-]+)+"),  # a settings key: services.{service}.deploy
    re.compile(r"/[a-z][\w-]*(?: [a-z][\w-]*)*"),  # a command as typed: /incident list
    re.compile(r"--[\w-]+"),  # a flag as typed
    re.compile(r"\b[\w-]+=\S*"),  # an option as typed: reason=…
    re.compile(r"@[\w.-]+"),  # a person as typed: @alice
    re.compile(r"\b[A-Z][a-z]+/[A-Za-z_]+"),  # a time zone: Asia/Shanghai
    re.compile(r"\{[^{}]*\}"),  # placeholders
    re.compile(r"\bv?\d[\w.+-]*"),  # numbers, durations, versions: 30m, v1.4.2
    re.compile(r"\bP[0-3]\b"),  # tiers
]
WORD = re.compile(r"[A-Za-z]{2,}")

DYNAMIC = {
    # key pattern: the code that builds it
    r"status\.": "bot/statuses.py badge(): f'status.{key}'",
    r"action\.": "bot/dispatch.py _denial(), bot/deploys/service.py: f'action.{permission}'",
    r"digest\.verb\.": "bot/dispatch.py: f'digest.verb.{action}'",
    r"page\.": "bot/escalation/pager.py: f'page.{row.channel}'",
    r"channel\.": "bot/escalation/explain.py: f'channel.{channel}'",
    r"why\.": "bot/escalation/explain.py, channels.py: why.via/status/reason/no_*",
    r"swap\.(status|already)\.": "bot/oncall/swaps.py, service.py: f'swap.status.{status}'",
    r"oncall\.handoff\w*_first": "bot/oncall/service.py: key + '_first'",
    r"deploy\.(state|card\.title|already|ended|action|status\.why)\.": "bot/deploys/, "
    "commands/deploy.py: f'deploy.state.{state}' and the like",
    r"gate\.state\.": "bot/deploys/cards.py: f'gate.state.{gate.state}'",
    r"gate\.verdict\.": "bot/gates/analysis.py: f'gate.verdict.{tally.verdict}'",
    r"(deploy\.msg|deploy\.reason|gate\.note)\.": "bot/deploys/messages.py shown(): a stored "
    "English text is read back by matching it against every template under these prefixes",
    r"grammar\.vocab\.": "bot/grammar/parser.py: f'grammar.vocab.{arg.choices_from}'",
    r"grammar\.\w+_plain": "bot/grammar/parser.py: key + '_plain'",
    r"time\.": "bot/incidents/times.py: f'time.{in|ago}.{unit}'",
    r"card\.link\.": "bot/cards.py: f'card.link.{link.kind}'",
    r"card\.(page|via)\.": "bot/paging/card.py: f'card.page.state.{state}', f'card.via.{via}'",
    r"help\.(topic|name|arg|flag)\.": "bot/grammar/help.py, spec.py: f'help.arg.{name}'",
    r"console\.": "adapters/chat/console/routes.py: every console.* text goes to the page",
}  # fmt: skip


def english_words(text: str) -> set[str]:
    for pattern in NOT_WORDS:
        text = pattern.sub(" ", text)
    return set(WORD.findall(text)) - NAMES


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def source() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8")
        for top in SOURCES
        for path in (ROOT / top).rglob("*")
        if path.suffix in SUFFIXES and "texts" not in path.relative_to(ROOT).parts[:2]
    )


def test_every_text_is_in_both_languages() -> None:
    missing = [k for k, v in CATALOGUE.items() if not v.get("en") or not v.get("zh")]
    assert missing == []


def test_the_chinese_texts_hold_no_english_words() -> None:
    found = {k: sorted(w) for k, v in CATALOGUE.items() if (w := english_words(v.get("zh", "")))}
    assert found == {}


def test_both_languages_have_the_same_placeholders() -> None:
    differ = {
        key: (sorted(placeholders(v["en"])), sorted(placeholders(v["zh"])))
        for key, v in CATALOGUE.items()
        if "en" in v and "zh" in v and placeholders(v["en"]) != placeholders(v["zh"])
    }
    assert differ == {}


def test_every_text_is_used_by_some_code() -> None:
    code = source()
    built = re.compile("|".join(f"(?:{pattern})" for pattern in DYNAMIC))
    unused = [
        key
        for key in CATALOGUE
        if f'"{key}"' not in code and f"'{key}'" not in code and not built.match(key)
    ]
    assert unused == []


def test_a_key_defined_twice_is_refused() -> None:
    assert sum(len(m.TEXTS) for m in MODULES) == len(CATALOGUE)
    with pytest.raises(ValueError, match=r"'card\.status' is defined in both a and b"):
        merge({"a": {"card.status": {"en": "A"}}, "b": {"card.status": {"en": "B"}}})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("用法：/incident list 或 /incident show <编号>。", set()),
        ("未知选项 '--{flag}'，例如 reason=回滚 或 30m、v1.4.2、P1", set()),
        ("在 Slack 和 DingTalk 中打开 URL", set()),
        ("{service} 的 health gate 失败", {"health", "gate"}),
        ("点击 Rollback 按钮", {"Rollback"}),
    ],
)
def test_english_words_are_found_and_names_are_not(text: str, words: set[str]) -> None:
    assert english_words(text) == words
