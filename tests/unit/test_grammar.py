"""The command grammar: splitting chat text, tokenizing, parsing, errors in both languages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import CommandError
from bot.grammar import (
    Arg,
    CommandSpec,
    GrammarError,
    ParsedCommand,
    help_lines,
    parse,
    split_command,
    tokenize,
)
from bot.settings.durations import format_duration

DEPLOY = CommandSpec(
    "deploy",
    (
        Arg("service", choices_from="service", help_en="what to deploy", help_zh="要部署的服务"),
        Arg("version"),
        Arg("env", choices_from="environment"),
        Arg("to", keyword=True, required=False),
    ),
    permission="deploy",
    summary_en="Deploy a version",
    summary_zh="部署指定版本",
    aliases=("ship",),
    flags=("dry-run",),
)
SILENCE = CommandSpec(
    "silence",
    (
        Arg("incident", "int", choices_from="incident"),
        Arg("duration", "duration", required=False, default="30m"),
    ),
    permission="ack",
    summary_en="Silence an incident",
    summary_zh="静默事件",
)
ACK = CommandSpec(
    "ack", (Arg("incident", "int"),), "ack", "Acknowledge an incident", "确认事件", ("确认", "a")
)
NOTE = CommandSpec(
    "note", (Arg("incident", "int"), Arg("text", "rest")), "ack", "Add a note", "添加备注"
)
MODE = CommandSpec(
    "mode",
    (Arg("level", "choice", required=False, default="safe", choices=("fast", "safe")),),
    "admin",
    "Set the mode",
    "设置模式",
)
SPECS = {spec.name: spec for spec in (DEPLOY, SILENCE, ACK, NOTE, MODE)}
VOCAB = {
    "service": ["orders", "payments", "Search"],
    "environment": ["staging", "prod"],
    "incident": ["42", "43"],
}


def run(text: str, lang: str = "en") -> ParsedCommand:
    return parse(text, SPECS, VOCAB, lang)


def fail(text: str, lang: str = "en") -> GrammarError:
    with pytest.raises(GrammarError) as info:
        run(text, lang)
    return info.value


# --- split_command ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/deploy orders v1.4.2 prod", "deploy orders v1.4.2 prod"),
        ("  /ack 42  ", "ack 42"),
        ("／ack 42", "ack 42"),
        ("@Tocsin ack 42", "ack 42"),
        ("@tocsin /ack 42", "ack 42"),
        ("＠Tocsin\u3000ack\u300042", "ack 42"),
        ("@Tocsin: ack 42", "ack 42"),
        ("@Tocsin，ack 42", "ack 42"),
        ("@Tocsin/ack 42", "ack 42"),
        ("<@U123ABC> ack 42", "ack 42"),
        ("<@U123ABC|tocsin> /ack 42", "ack 42"),
        ("@Tocsin Bot ack 42", "ack 42"),
        ("@Tocsin", ""),
        ("/", ""),
    ],
)
def test_split_command_recognises_commands(text: str, expected: str) -> None:
    assert split_command(text, ["Tocsin", "tocsin bot"]) == expected


@pytest.mark.parametrize(
    "text",
    ["deploy orders", "hello team", "@alice /ack 42", "@TocsinFan ack 42", "", "  ", "ack /x"],
)
def test_split_command_ignores_chatter(text: str) -> None:
    assert split_command(text, ["Tocsin"]) is None


def test_split_command_in_direct_messages_needs_no_mention() -> None:
    assert split_command(" ack 42 ", ["Tocsin"], direct=True) == "ack 42"


# --- tokenize ---------------------------------------------------------------------------------


def test_tokenize_keeps_quoted_spaces() -> None:
    text = "a  \"b c\" 'd e' “中 文” 「甲 乙」 x=\"y z\" don't ''"
    assert tokenize(text) == ["a", "b c", "d e", "中 文", "甲 乙", "x=y z", "don't", ""]


def test_tokenize_splits_on_full_width_space() -> None:
    assert tokenize("ack\u300042") == ["ack", "42"]


@pytest.mark.parametrize(("lang", "expected"), [("en", "never closed"), ("zh", "没有闭合")])
def test_tokenize_rejects_unterminated_quotes(lang: str, expected: str) -> None:
    with pytest.raises(GrammarError) as info:
        tokenize('note "unfinished', lang)
    assert info.value.key == "grammar.unterminated_quote"
    assert expected in info.value.message
    assert isinstance(info.value, CommandError)


# --- parse: success -----------------------------------------------------------------------------


def test_parse_positional_arguments() -> None:
    cmd = run("deploy orders v1.4.2 prod")
    assert cmd.spec is DEPLOY
    assert cmd.args == {"service": "orders", "version": "v1.4.2", "env": "prod", "to": None}
    assert cmd.flags == frozenset()
    assert cmd.raw == "deploy orders v1.4.2 prod"


def test_parse_aliases_case_flags_keywords_and_canonical_spelling() -> None:
    cmd = run("/SHIP Orders to=v1.4.1 v1.4.2 PROD --DRY-RUN")
    assert cmd.spec is DEPLOY
    assert cmd.args == {"service": "orders", "version": "v1.4.2", "env": "prod", "to": "v1.4.1"}
    assert cmd.flags == {"dry-run"}


def test_parse_any_argument_by_name_and_flag_spellings() -> None:
    cmd = run("deploy env=prod service=search --to=v2 —dry-run v3")
    assert cmd.args == {"service": "Search", "version": "v3", "env": "prod", "to": "v2"}
    assert cmd.flags == {"dry-run"}


def test_parse_converts_ints_and_durations() -> None:
    assert run("silence 42").args == {"incident": 42, "duration": timedelta(minutes=30)}
    assert run("silence #43 1h30m").args["duration"] == timedelta(hours=1, minutes=30)
    assert run("silence ４２ duration=2h").args == {"incident": 42, "duration": timedelta(hours=2)}
    assert run("ack +7").args == {"incident": 7}
    assert fail("ack -7").key == "grammar.int_range"


def test_parse_choice_default_and_case() -> None:
    assert run("mode").args == {"level": "safe"}
    assert run("mode FAST").args == {"level": "fast"}


def test_parse_chinese_alias() -> None:
    assert run("确认 42").spec is ACK


def test_double_dash_makes_the_rest_positional() -> None:
    assert run("deploy orders -- --v1 prod").args["version"] == "--v1"


def test_quoted_words_are_never_options() -> None:
    spec = CommandSpec("echo", (Arg("word"),), "any", "Echo", "回显")
    assert parse('echo "a=b"', {"echo": spec}, {}, "en").args == {"word": "a=b"}
    assert parse("echo '--x'", {"echo": spec}, {}, "en").args == {"word": "--x"}


def test_rest_takes_the_remainder_verbatim() -> None:
    assert run('note 42 rolled back "orders"  --now').args["text"] == 'rolled back "orders"  --now'
    assert run('note 42 "all good now"').args["text"] == "all good now"
    assert run('note 42 he said "hi').args["text"] == 'he said "hi'
    assert run("note text=done incident=42").args == {"incident": 42, "text": "done"}


def test_vocabulary_not_provided_is_not_checked() -> None:
    assert parse("deploy anything v1 anywhere", SPECS, {}, "en").args["service"] == "anything"


# --- parse: errors ------------------------------------------------------------------------------


def test_unknown_service_suggests_in_english() -> None:
    error = fail("deploy oders v1 prod")
    assert error.message.splitlines() == [
        "Unknown service 'oders'. Did you mean: orders?",
        "Usage: /deploy <service> <version> <env> [to=…] [--dry-run]",
    ]
    assert error.key == "grammar.unknown_value"
    assert error.params["value"] == "oders"
    assert error.suggestions == ("orders",)


def test_unknown_service_suggests_in_chinese() -> None:
    error = fail("deploy oders v1 prod", "zh")
    assert error.message.splitlines() == [
        "未知服务 'oders'。您是不是想输入：orders？",
        "用法：/deploy <服务> <版本> <env> [to=…] [--dry-run]",
    ]


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Unknown environment 'zzz'. Known: staging, prod."),
        ("zh", "未知环境 'zzz'。可选：staging、prod。"),
    ],
)
def test_unknown_value_without_close_match_lists_a_short_vocabulary(
    lang: str, expected: str
) -> None:
    assert fail("deploy orders v1 zzz", lang).message.splitlines()[0] == expected


def test_unknown_incident_is_checked_after_int_conversion() -> None:
    assert fail("silence 044").key == "grammar.unknown_value_list"
    assert run("silence 042").args["incident"] == 42


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Unknown command 'depoly'. Did you mean: /deploy? Type /help for the full list."),
        ("zh", "未知命令 'depoly'。您是不是想输入：/deploy？输入 /help 查看全部命令。"),
    ],
)
def test_unknown_command_suggests_commands_and_help(lang: str, expected: str) -> None:
    error = fail("depoly orders", lang)
    assert error.message == expected
    assert error.usage is None
    assert error.suggestions == ("/deploy",)


def test_unknown_command_without_suggestion_mentions_help() -> None:
    error = fail("xyzzy")
    assert error.key == "grammar.unknown_command_plain"
    assert "/help" in error.message


def test_alias_typo_suggests_the_command_name() -> None:
    assert fail("shipp orders").suggestions == ("/deploy",)


@pytest.mark.parametrize(
    ("text", "key", "en", "zh"),
    [
        ("", "grammar.empty", "No command given", "没有输入命令"),
        (
            "deploy orders",
            "grammar.missing_args",
            "Missing arguments <version>, <env>.",
            "缺少参数 <版本>、<env>。",
        ),
        ("ack", "grammar.missing_arg", "Missing argument <incident>.", "缺少参数 <事件编号>。"),
        ("ack 42 43", "grammar.extra_arg", "Unexpected extra argument '43'.", "多余的参数 '43'。"),
        (
            "ack 42 incident=43",
            "grammar.duplicate_arg",
            "<incident> is given more than once",
            "参数 <事件编号> 被重复指定",
        ),
        (
            "ack x",
            "grammar.bad_int",
            "<incident> must be a whole number, not 'x'.",
            "<事件编号> 需要一个整数，而不是 'x'。",
        ),
        ("ack 4.2", "grammar.bad_int", "not '4.2'", "而不是 '4.2'"),
        ("silence 42 soon", "grammar.bad_duration", "such as 90s, 30m", "例如 90s、30m"),
        ("silence 42 99999999999999999999d", "grammar.bad_duration", "not '9999", "而不是 '9999"),
        (
            "deploy orders v1 prod to=",
            "grammar.empty_value",
            "<to> needs a value.",
            "<to> 不能为空。",
        ),
        (
            "deploy orders v1 prod --dry",
            "grammar.unknown_flag",
            "Unknown flag '--dry'. Did you mean: --dry-run?",
            "未知选项 '--dry'。您是不是想输入：--dry-run？",
        ),
        (
            "ack 42 --force",
            "grammar.unknown_flag_plain",
            "Unknown flag '--force'.",
            "未知选项 '--force'。",
        ),
        (
            "deploy orders v1 prod too=x",
            "grammar.unknown_key",
            "Did you mean: to=?",
            "您是不是想输入：to=？",
        ),
        ("ack 42 zz=1", "grammar.unknown_key_plain", "Unknown option 'zz='.", "未知选项 'zz='。"),
        ("mode slow", "grammar.bad_choice", "Choose one of: fast, safe.", "可选：fast、safe。"),
        ('deploy "orders v1 prod', "grammar.unterminated_quote", "never closed", "没有闭合"),
    ],
)
def test_errors_in_both_languages(text: str, key: str, en: str, zh: str) -> None:
    english, chinese = fail(text, "en"), fail(text, "zh")
    assert english.key == chinese.key == key
    assert en in english.message
    assert zh in chinese.message


def test_errors_about_a_known_command_show_its_usage() -> None:
    assert fail("ack", "en").message.endswith("\nUsage: /ack <incident>")
    assert fail("ack", "zh").message.endswith("\n用法：/ack <事件编号>")


def test_grammar_error_is_a_command_error_with_its_message() -> None:
    error = fail("ack")
    assert isinstance(error, CommandError)
    assert error.message == str(error)
    assert error.usage == "/ack <incident>"


# --- specs, usage, help -------------------------------------------------------------------------


def test_usage_lines() -> None:
    assert SILENCE.usage("en") == "/silence <incident> [duration]"
    assert DEPLOY.usage("en") == "/deploy <service> <version> <env> [to=…] [--dry-run]"
    assert DEPLOY.usage("zh") == "/deploy <服务> <版本> <env> [to=…] [--dry-run]"
    assert MODE.usage("en") == "/mode [fast|safe]"
    assert NOTE.usage("en") == "/note <incident> <text…>"


def test_details_list_documented_arguments() -> None:
    assert DEPLOY.details("zh")[:4] == [
        "用法：" + DEPLOY.usage("zh"),
        "部署指定版本",
        "参数：",
        "  <服务> — 要部署的服务",
    ]
    assert DEPLOY.details("en")[3] == "  <service> — what to deploy"


def test_help_lines_only_allowed_sorted() -> None:
    lines = help_lines(SPECS, "zh", lambda spec: spec.permission == "ack")
    assert lines == [
        "其他",
        "  /ack <事件编号> — 确认事件",
        "  /note <事件编号> <内容…> — 添加备注",
        "  /silence <事件编号> [时长] — 静默事件",
    ]
    assert help_lines(SPECS, "en", lambda spec: spec.name == "mode") == [
        "Other",
        "  /mode [fast|safe] — Set the mode",
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Arg("Bad"),
        lambda: Arg("x", "choice"),
        lambda: Arg("x", choices=("a",)),
        lambda: Arg("x", default="1"),
        lambda: Arg("x", "rest", keyword=True),
        lambda: Arg("x", "duration", choices_from="service"),
        lambda: Arg("x", "choice", required=False, default="c", choices=("a", "b")),
        lambda: CommandSpec("Ack", (), "ack", "", ""),
        lambda: CommandSpec("ack", (Arg("x"), Arg("x")), "ack", "", ""),
        lambda: CommandSpec("ack", (), "ack", "", "", flags=("--x",)),
        lambda: CommandSpec("ack", (Arg("t", "rest"), Arg("x")), "ack", "", ""),
        lambda: CommandSpec("ack", (Arg("x", required=False), Arg("y")), "ack", "", ""),
    ],
)
def test_invalid_specs_are_rejected_at_definition(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        make()


def test_string_defaults_are_converted() -> None:
    assert Arg("n", "int", required=False, default="3").default == 3
    assert SILENCE.args[1].default == timedelta(minutes=30)


def test_name_clash_between_commands_is_a_programming_error() -> None:
    clash = CommandSpec("ship", (), "deploy", "Ship", "发布")
    with pytest.raises(ValueError):
        parse("ship", {**SPECS, "ship": clash}, VOCAB, "en")


# --- properties ---------------------------------------------------------------------------------

_QUOTE_FREE = st.text(st.characters(codec="utf-8", exclude_characters="\"'“”‘’「」＂"), max_size=12)


@given(st.lists(_QUOTE_FREE, max_size=6))
def test_tokenize_round_trips_quoted_words(words: list[str]) -> None:
    assert tokenize(" ".join(f'"{word}"' for word in words)) == words


@given(st.lists(_QUOTE_FREE.filter(lambda w: w != "" and not any(c.isspace() for c in w))))
def test_tokenize_plain_words_split_on_whitespace(words: list[str]) -> None:
    assert tokenize("\u3000 ".join(words)) == words


_NOISE = st.text(
    st.sampled_from(list("ack deploy note silence mode 42 #-=—\"'“”／/@＠\u3000\n orders 2h x")),
    max_size=40,
) | st.text(max_size=40)


@given(_NOISE, st.sampled_from(["en", "zh"]))
def test_parse_only_ever_raises_grammar_errors(text: str, lang: str) -> None:
    try:
        cmd = run(text, lang)
    except GrammarError as error:
        assert error.message
    else:
        assert cmd.spec in SPECS.values()


@given(_NOISE)
def test_split_command_never_raises_and_strips(text: str) -> None:
    body = split_command(text, ["Tocsin"])
    assert body is None or body == body.strip()


@given(
    st.integers(min_value=1, max_value=2**63 - 1),
    st.timedeltas(timedelta(seconds=1), timedelta(days=366)),
)
def test_ints_and_durations_round_trip(number: int, delta: timedelta) -> None:
    delta = timedelta(seconds=int(delta.total_seconds()))
    cmd = parse(f"ack {number}", SPECS, VOCAB, "en")
    assert cmd.args["incident"] == number
    text = f"silence 42 {format_duration(delta)}"
    assert parse(text, SPECS, VOCAB, "en").args["duration"] == delta


# --- exact input rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("ack 0", "grammar.int_range"),
        ("ack 99999999999999999999999", "grammar.int_range"),
        (f"ack {2**63}", "grammar.int_range"),
        ("ack 4 2", "grammar.extra_arg"),
        ('ack "42\n"', "grammar.control_char"),
        ("ack ²", "grammar.bad_int"),
        ("ack " + "9" * 200, "grammar.too_long_value"),
        ("silence 42 0s", "grammar.duration_range"),
        ("silence 42 400d", "grammar.duration_range"),
        ("silence 42 99999999999999999999w", "grammar.bad_duration"),
        ('deploy orders "v1.4.2\n" prod', "grammar.control_char"),
        ('deploy "orders\n" v1 prod', "grammar.control_char"),
        ('deploy orders v1 "prod\n"', "grammar.control_char"),
        ('deploy orders v1 prod to="v1\u0000"', "grammar.control_char"),
        ("deploy orders " + "v" * 200 + " prod", "grammar.too_long_value"),
        ("note 42 " + "x" * 3000, "grammar.too_long_value"),
        ("ack " + "1" * 4001, "grammar.too_long"),
    ],
)
def test_every_argument_has_exact_rules(text: str, key: str) -> None:
    error = fail(text)
    assert error.key == key
    assert "\n" not in error.message.splitlines()[0] or "\\n" in error.message


def test_the_maximum_id_is_accepted_and_rest_may_span_lines() -> None:
    assert run(f"ack {2**63 - 1}").args == {"incident": 2**63 - 1}
    assert run("note 42 first line\nsecond\tline").args["text"] == "first line\nsecond\tline"


def test_a_pattern_matches_the_whole_word() -> None:
    spec = CommandSpec("tag", (Arg("v", pattern=r"[a-z0-9.]+"),), "any", "Tag", "标签")
    assert parse("tag v1.2", {"tag": spec}, {}, "en").args == {"v": "v1.2"}
    with pytest.raises(GrammarError) as info:
        parse("tag v1.2!", {"tag": spec}, {}, "zh")
    assert info.value.key == "grammar.bad_word" and "不是有效的" in info.value.message


def test_errors_spell_out_control_characters_and_stay_short() -> None:
    error = fail('ack "4\u001b[2J"')
    assert "\x1b" not in error.message and "\\x1b" in error.message
    long = fail("deploy orders " + "v" * 200 + " prod")
    assert len(long.message.splitlines()[0]) < 160


def test_chinese_replies_for_the_new_rules() -> None:
    assert "之间的整数" in fail("ack 99999999999999999999999", "zh").message
    assert "换行" in fail('ack "1\n"', "zh").message


def test_a_flag_after_a_rest_argument_is_the_commands_own() -> None:
    spec = CommandSpec(
        "push",
        (Arg("service"), Arg("rest", "rest", required=False, default="")),
        "deploy",
        "Push",
        "推送",
        flags=("dry-run",),
    )
    specs = {"push": spec}
    cmd = parse("push orders prod to=v2 --dry-run", specs, VOCAB, "en")
    assert cmd.args["rest"] == "prod to=v2"
    assert cmd.flags == {"dry-run"}
    cmd = parse('push orders prod "--dry-run"', specs, VOCAB, "en")
    assert cmd.args["rest"] == 'prod "--dry-run"'
    assert cmd.flags == frozenset()
    cmd = parse("push orders reason --dry-run is in the text", specs, VOCAB, "en")
    assert cmd.args["rest"] == "reason --dry-run is in the text"
    assert cmd.flags == frozenset()
    cmd = parse("push orders prod --other", specs, VOCAB, "en")
    assert cmd.args["rest"] == "prod --other"
