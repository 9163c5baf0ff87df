"""`/help` as people read it: grouped by topic, sorted, one line per command with an example,
usage written the way people type it, in English and in Chinese; and one command in full."""

from __future__ import annotations

import re

import pytest

from bot.grammar import TOPICS, CommandSpec, asks_for_help, help_lines
from bot.i18n import t
from commands import all_commands

SPECS = {
    word: command.spec
    for command in all_commands()
    for word in (command.spec.name, *command.spec.aliases)
}
UNIQUE = {spec.name: spec for spec in SPECS.values()}
INTERNALS = re.compile(r"\w=\]|=\d|=<|\brest\b|\bwhat\b|<rollback>")
"""What usage must not show: ``[rest=]``, ``[what=]``, ``[duration=30m]``, ``<rollback>``…"""
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def everything(spec: CommandSpec) -> bool:
    return True


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_commands_are_grouped_by_topic_in_order_and_sorted_within(lang: str) -> None:
    lines = help_lines(SPECS, lang, everything)
    titles = [line for line in lines if not line.startswith("  ")]
    assert titles == [t(f"help.topic.{topic}", lang) for topic in TOPICS], "no 'other' group"
    groups: list[list[str]] = []
    for line in lines:
        if line.startswith("  "):
            groups[-1].append(line.split()[0])
        else:
            groups.append([])
    assert all(group == sorted(group) for group in groups)
    assert sorted(name for group in groups for name in group) == sorted(
        f"/{name}" for name in UNIQUE
    )
    assert groups[0][:1] == ["/ack"] and "/deploy" in groups[1] and "/oncall" in groups[2]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_line_has_usage_a_short_summary_and_an_example(lang: str) -> None:
    example = "e.g. /" if lang == "en" else "例如：/"
    for line in help_lines(SPECS, lang, everything):
        if line.startswith("  "):
            assert example in line and " — " in line, line
            assert not INTERNALS.search(line.split(" — ")[0]), line
            assert ";" not in line and "；" not in line, "only the summary's first clause"
    zh = "\n".join(help_lines(SPECS, "zh", everything))
    assert "/silence <事件编号> [时长]" in zh and "/deploy <服务> <版本> [环境]" in zh


def test_usage_is_written_as_people_type_it() -> None:
    assert UNIQUE["silence"].usage("en") == "/silence <incident> [duration]"
    assert UNIQUE["drill"].usage("en") == "/drill rollback <service> [environment]"
    assert UNIQUE["deploy"].usage("en") == (
        "/deploy <service> <version> [environment] [key=value…] [--dry-run]"
    )
    assert UNIQUE["lang"].usage("en") == "/lang zh|en [--chat]"
    assert UNIQUE["incident"].usage("en") == "/incident [list|show|why] [incident]"


def test_only_what_the_person_may_run_is_listed() -> None:
    lines = help_lines(SPECS, "en", lambda spec: spec.permission == "view")
    shown = " ".join(lines)
    assert "/whoami" in shown and "/deploy" not in shown and "/ack" not in shown
    assert t("help.topic.incidents", "en") in lines  # /incident is a view
    assert help_lines(SPECS, "en", lambda spec: False) == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_command_has_a_topic_examples_and_every_argument_explained(lang: str) -> None:
    for spec in UNIQUE.values():
        assert spec.topic in TOPICS, spec.name
        assert 1 <= len(spec.examples) <= 3, spec.name
        for example in spec.examples:
            assert example.split()[0] in (f"/{spec.name}", *(f"/{a}" for a in spec.aliases))
        explained = [line for line in spec.details(lang) if line.startswith("  ") and "—" in line]
        assert len(explained) == len(spec.args) + len(spec.flags), spec.name
        assert not [line for line in explained if line.endswith(t("help.optional", lang))]


def test_details_of_deploy_in_english() -> None:
    lines = UNIQUE["deploy"].details("en")
    assert lines[0] == "Usage: /deploy <service> <version> [environment] [key=value…] [--dry-run]"
    assert lines[1].startswith("Deploy a version of a service")
    assert "  --dry-run — show what would happen, change nothing" in lines
    assert "Also typed as: /发布" in lines
    examples = lines[lines.index("Examples:") + 1 :]
    assert examples[0] == "  /deploy orders v1.4.2 prod" and 1 <= len(examples) <= 3


def test_details_of_deploy_in_chinese_are_chinese() -> None:
    lines = UNIQUE["deploy"].details("zh")
    assert lines[0] == "用法：/deploy <服务> <版本> [环境] [key=value…] [--dry-run]"
    assert "参数：" in lines and "示例：" in lines
    for line in lines[1:]:
        if not line.startswith("  /"):
            assert CHINESE.search(line), line


def test_a_default_is_said_in_the_details() -> None:
    assert "  [duration] — how long, e.g. 30m, 2h, 1d (default 30m)" in UNIQUE["silence"].details(
        "en"
    )
    assert "  rollback — typed as shown" in UNIQUE["drill"].details("en")


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("help", True),
        ("HELP", True),
        ("Help?", True),
        ("help？", True),
        ("帮助", True),
        ("帮助？", True),
        ("/help", True),
        ("  help  ", True),
        ("help me", False),
        ("help??", False),
        ("helpful", False),
        ("who can help?", False),
        ("", False),
    ],
)
def test_a_bare_help_is_recognised(text: str, asks: bool) -> None:
    assert asks_for_help(text) is asks
