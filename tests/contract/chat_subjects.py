"""Every real chat platform built the way its own tests build it, against its fake on 127.0.0.1,
with what its chat shows read back from the fake: the cards' statuses and the texts, in order.

A card's status is read from the marker a person sees on it (the status emoji, Slack's emoji
code, or the status label), never from the adapter's own rendering code.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from dingtalk_support import GROUP, section
from fake_dingtalk import FakeDingTalkApi
from fake_feishu import FakeOpenApi
from fake_slack import FakeSlackApi
from fake_wecom import FakeWeCom
from feishu_support import CHAT, new_app_id
from feishu_support import config as feishu_config
from slack_support import CHANNEL
from slack_support import config as slack_config
from wecom_support import wecom_section

from adapters.chat import dingtalk, feishu, slack, wecom
from bot.clock import FakeClock
from bot.model import Destination
from bot.ports import ChatPlatform
from bot.replay import MemoryReplays

MARKERS = {
    "triggered": ("🚨", ":rotating_light:", "Triggered"),
    "acknowledged": ("👀", ":eyes:", "Acknowledged"),
    "silenced": ("🔕", ":mute:", "Silenced"),
    "resolved": ("✅", ":white_check_mark:", "Resolved"),
}


def status_shown(message: Any) -> str:
    """The one status a message's markers show, or a description of what is wrong."""
    shown = json.dumps(message, ensure_ascii=False)
    found = [status for status, marks in MARKERS.items() if any(m in shown for m in marks)]
    return found[0] if len(found) == 1 else f"unclear: {found}"


@dataclass
class ChatSubject:
    name: str
    platform: ChatPlatform
    dest: Destination
    bad_dest: Destination
    cards: Callable[[], list[Any]]
    """The cards the chat shows now as the platform holds them, oldest first."""
    texts: Callable[[], list[str]]
    """The plain texts the chat shows now, oldest first."""
    closed: Callable[[], Awaitable[ChatPlatform]]
    """The same platform built against a port nobody listens on."""

    def statuses(self) -> list[str]:
        return [status_shown(shown) for shown in self.cards()]


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@asynccontextmanager
async def slack_subject() -> AsyncIterator[ChatSubject]:
    name = "slack"
    api = FakeSlackApi(users={})
    await api.start()
    made: list[Any] = []

    def build(**overrides: Any) -> ChatPlatform:
        made.append(slack.create({**slack_config(api)["slack"], **overrides}, clock=FakeClock()))
        return made[-1].platform

    async def closed() -> ChatPlatform:
        return build(api_url=closed_port() + "/api/")

    try:
        yield ChatSubject(
            name,
            build(),
            Destination("slack", CHANNEL),
            Destination("slack", "C0NOWHERE"),
            lambda: [m.blocks for m in api.in_channel(CHANNEL) if m.blocks],
            lambda: [m.text for m in api.in_channel(CHANNEL) if not m.blocks],
            closed,
        )
    finally:
        for adapter in made:
            await adapter.aclose()
        await api.close()


@asynccontextmanager
async def dingtalk_subject(kind: str) -> AsyncIterator[ChatSubject]:
    """``app`` (interactive cards), ``markdown`` (the app without a card template) or
    ``robot`` (a custom group robot)."""
    name = "dingtalk" if kind == "app" else f"dingtalk-{kind}"
    clock = FakeClock()
    api = FakeDingTalkApi(now=clock.now)
    await api.start()
    made: list[Any] = []
    extra: dict[str, Any] = {"card_template_id": None} if kind == "markdown" else {}

    def build(**overrides: Any) -> ChatPlatform:
        raw = section(api, **extra, **overrides)
        made.append(dingtalk.create(raw, clock=clock, replays=MemoryReplays()))
        return made[-1].robot if kind == "robot" else made[-1].platform

    async def closed() -> ChatPlatform:
        gone = closed_port()
        if kind == "robot":
            return build(robots={"ops": {"webhook": f"{gone}/robot/send?access_token=x"}})
        return build(api_url=gone, oapi_url=gone)

    def app_cards() -> list[Any]:
        if kind == "markdown":
            return [m for m in api.sent if m["msgKey"] == "sampleMarkdown"]
        return [c.public for c in api.cards.values()]

    def robot_cards() -> list[Any]:
        return [c.body for c in api.robot_posts if c.body["msgtype"] != "text"]

    try:
        if kind == "robot":
            yield ChatSubject(
                name,
                build(),
                Destination("dingtalk-robot", "ops"),
                Destination("dingtalk-robot", "nowhere"),
                robot_cards,
                lambda: [
                    c.body["text"]["content"]
                    for c in api.robot_posts
                    if c.body["msgtype"] == "text"
                ],
                closed,
            )
        else:
            yield ChatSubject(
                name,
                build(),
                Destination("dingtalk", GROUP),
                Destination("dingtalk", "cidNOWHERE=="),
                app_cards,
                lambda: [m["content"] for m in api.sent if m["msgKey"] == "sampleText"],
                closed,
            )
    finally:
        for adapter in made:
            await adapter.aclose()
        await api.close()


@asynccontextmanager
async def wecom_subject(kind: str) -> AsyncIterator[ChatSubject]:
    """``app`` (template cards to a person) or ``robot`` (a group robot's webhook)."""
    name = "wecom" if kind == "app" else "wecom-robot"
    api = FakeWeCom()
    await api.start()
    made: list[Any] = []

    def build(**overrides: Any) -> ChatPlatform:
        raw = wecom_section(api, **overrides)
        made.append(
            wecom.create(
                raw, clock=FakeClock(), replays=MemoryReplays(), identities={"alice": "alice"}
            )
        )
        return made[-1].robots if kind == "robot" else made[-1].app

    async def closed() -> ChatPlatform:
        return build(api_url=closed_port() + "/")

    def robot_posts(texts: bool) -> list[Any]:
        return [m for m in api.robot("ops") if (m["msgtype"] == "text") == texts]

    try:
        if kind == "robot":
            yield ChatSubject(
                name,
                build(),
                Destination("wecom-robot", "ops"),
                Destination("wecom-robot", "nowhere"),
                lambda: [m for m in robot_posts(texts=False)],
                lambda: [m["text"]["content"] for m in robot_posts(texts=True)],
                closed,
            )
        else:
            yield ChatSubject(
                name,
                build(),
                Destination("wecom", "@alice"),
                Destination("wecom", "nobody-here"),
                lambda: [s.card for s in api.cards_to("alice")],
                lambda: api.texts_to("alice"),
                closed,
            )
    finally:
        for adapter in made:
            await adapter.aclose()
        await api.close()


@asynccontextmanager
async def feishu_subject() -> AsyncIterator[ChatSubject]:
    name = "feishu"
    api = FakeOpenApi(app_id=new_app_id(), ws_url="", people=set())
    await api.start()
    made: list[Any] = []

    def build(**overrides: Any) -> ChatPlatform:
        raw = {**feishu_config(api)["feishu"], **overrides}
        made.append(feishu.create(raw, clock=FakeClock(), replays=MemoryReplays()))
        return made[-1].platform

    async def closed() -> ChatPlatform:
        return build(domain=closed_port(), app_id=new_app_id())

    try:
        yield ChatSubject(
            name,
            build(),
            Destination("feishu", CHAT),
            Destination("feishu", "oc_nowhere"),
            lambda: [m.content for m in api.cards_in(CHAT)],
            lambda: [m.text for m in api.posts_in(CHAT)],
            closed,
        )
    finally:
        for adapter in made:
            await adapter.aclose()
        await api.close()


SUBJECTS: dict[str, Callable[[], Any]] = {
    "slack": slack_subject,
    "dingtalk": lambda: dingtalk_subject("app"),
    "dingtalk-markdown": lambda: dingtalk_subject("markdown"),
    "dingtalk-robot": lambda: dingtalk_subject("robot"),
    "wecom": lambda: wecom_subject("app"),
    "wecom-robot": lambda: wecom_subject("robot"),
    "feishu": feishu_subject,
}
