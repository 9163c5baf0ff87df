"""`/help` through the dispatcher: one command in full, only what the person may run, and a bare
``help`` (no slash) in a direct chat; group chats stay quiet about chatter."""

from __future__ import annotations

from itertools import count

import pytest

from adapters.chat.console.conversation import command_text
from bot.bootstrap import Tocsin
from bot.i18n import t
from bot.model import CommandRequest, Destination, Reply, Sender

OPS = Destination("fake", "ops")
_ids = count(1)


async def say(app: Tocsin, who: str, text: str) -> Reply:
    request = CommandRequest(
        text, Sender("fake", who), OPS, f"help-{next(_ids)}", app.services.clock.now()
    )
    return await app.dispatcher.command(request)


@pytest.mark.parametrize(
    "text", ["/help deploy", "/help /deploy", "/帮助 deploy", "帮助 deploy", "/help 发布"]
)
async def test_help_for_one_command_gives_its_usage_arguments_and_examples(
    tocsin: Tocsin, text: str
) -> None:
    reply = await say(tocsin, "U-ALICE", text)
    lines = reply.text.splitlines()
    assert reply.ok and reply.private
    assert lines[0] == "Usage: /deploy <service> <version> [environment] [key=value…] [--dry-run]"
    assert "Arguments:" in lines and "  /deploy orders v1.4.2 prod" in lines


async def test_help_for_one_command_in_chinese(tocsin: Tocsin) -> None:
    reply = await say(tocsin, "U-BOB", "/help silence")
    assert reply.text.splitlines()[:2] == [
        "用法：/silence <事件编号> [时长]",
        "在一段时间内静默事件通知。",
    ]
    assert "  [时长] — 时长，例如 30m、2h、1d（默认 30m）" in reply.text.splitlines()


async def test_help_for_a_command_the_person_may_not_run_lists_what_they_may(
    tocsin: Tocsin,
) -> None:
    reply = await say(tocsin, "U-CAROL", "/help deploy")
    lines = reply.text.splitlines()
    assert lines[0] == t("help.no_such", "en", command="deploy")
    assert "Usage:" not in reply.text and "/deploy" not in "\n".join(lines[1:])
    assert any(line.startswith("  /incident ") for line in lines)


async def test_help_overview_is_grouped_and_ends_with_how_to_learn_more(tocsin: Tocsin) -> None:
    lines = (await say(tocsin, "U-ALICE", "/help")).text.splitlines()
    assert lines[0] == t("cmd.help_header", "en")
    assert lines[1] == t("help.topic.incidents", "en")
    assert lines[-1] == t("help.footer", "en")


@pytest.mark.parametrize(
    ("text", "who", "lang"), [("/help?", "U-ALICE", "en"), ("/帮助？", "U-BOB", "zh")]
)
async def test_a_bare_help_from_a_direct_chat_gets_the_help(
    tocsin: Tocsin, text: str, who: str, lang: str
) -> None:
    """A platform sends what someone typed in a direct chat as a command (``help?`` arrives as
    ``/help?``): it is answered with the help, not with "unknown command"."""
    reply = await say(tocsin, who, text)
    assert reply.ok and reply.text.startswith(t("cmd.help_header", lang))


async def test_other_text_in_a_direct_chat_gets_a_one_line_hint(tocsin: Tocsin) -> None:
    reply = await say(tocsin, "U-ALICE", "/thanks a lot")
    assert not reply.ok and len(reply.text.splitlines()) == 1 and "/help" in reply.text


def test_console_answers_a_bare_help_only_in_a_private_chat() -> None:
    assert command_text("help", direct=True) == "/help"
    assert command_text("帮助？", direct=True) == "/help"
    assert command_text("Help?", direct=True) == "/help"
    assert command_text("help") is None, "in a shared chat, chatter stays chatter"
    assert command_text("thanks", direct=True) is None
    assert command_text("help me out", direct=True) is None
