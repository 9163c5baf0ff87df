"""Exact input rules through the real dispatcher: bad arguments get a clear reply, in the
person's language, and change nothing; no text at all makes the dispatcher fail inside."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from adapters.deploy.memory import MemoryBackend
from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.i18n import t
from bot.model import ActionKind
from bot.store.db import Database
from bot.store.tables import audit_log, runs
from tests.support import RecordingPlatform, migrated
from tests.unit.test_deploys import wire
from tests.unit.test_dispatch import incident, open_incident, press, say

INTERNAL = {t("error.internal", lang, ref="").split("(")[0].split("（")[0] for lang in ("en", "zh")}
HUGE = "99999999999999999999999"


def internal(text: str) -> bool:
    return any(text.startswith(prefix) for prefix in INTERNAL)


async def count_runs(app: Tocsin) -> int:
    async with app.services.db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(runs))).scalar_one())


async def outcomes(app: Tocsin) -> list[str]:
    async with app.services.db.connect() as conn:
        rows = await conn.execute(select(audit_log.c.outcome).order_by(audit_log.c.id))
        return [row.outcome for row in rows]


@pytest.fixture
def mem() -> MemoryBackend:
    return MemoryBackend("mem")


@pytest.fixture
def app(db: Database, clock: FakeClock, chat: RecordingPlatform, mem: MemoryBackend) -> Tocsin:
    return wire(db, clock, chat, mem)


async def test_a_version_with_a_trailing_newline_is_refused_and_runs_nothing(
    app: Tocsin, mem: MemoryBackend
) -> None:
    reply = await say(app, "U-ALICE", '/deploy orders "v1.4.2\n" staging')
    assert not reply.ok and not internal(reply.text)
    assert "line break" in reply.text and "v1.4.2\\n" in reply.text and "Usage" in reply.text
    zh = await say(app, "U-BOB", '/deploy orders "v1.4.2\n" staging')
    assert "换行" in zh.text
    assert await count_runs(app) == 0 and mem.started == []
    assert await outcomes(app) == ["invalid", "invalid"]
    assert (await say(app, "U-ALICE", "/deploy orders v1.4.2 staging")).ok  # the same, clean
    assert await count_runs(app) == 1


@pytest.mark.parametrize(
    "text",
    [
        "/deploy orders v1.4.2 staging note=\x1b[2J",
        "/deploy orders v1.4.2 staging " + "k=" + "x" * 300,
        "/deploy orders v1.4.2! staging",
        "/deploy orders " + "v" * 200 + " staging",
        "/rollback orders staging to=v1\x07",
        '/deploy "orders\n" v1.4.2 staging',
        '/history orders "staging\n"',
    ],
)
async def test_malformed_deploy_arguments_are_refused_clearly(app: Tocsin, text: str) -> None:
    reply = await say(app, "U-ALICE", text)
    assert not reply.ok and not internal(reply.text), reply.text
    assert await count_runs(app) == 0


async def test_a_number_too_big_for_the_database_gets_a_clear_reply(app: Tocsin) -> None:
    number = await open_incident(app)
    for text in (f"/ack {HUGE}", f"/approve {HUGE}", "/ack 0", f"/silence {number} 99999d"):
        reply = await say(app, "U-ALICE", text)
        assert not reply.ok and not internal(reply.text), (text, reply.text)
    reply = await say(app, "U-ALICE", f"/ack {HUGE}")
    assert "from 1 to 9223372036854775807" in reply.text
    assert "之间的整数" in (await say(app, "U-BOB", f"/ack {HUGE}")).text
    shown = await say(app, "U-ALICE", f"/incident {HUGE}")
    assert not shown.ok and shown.text == t("incident.usage", "en")
    pressed = await press(app, "U-ALICE", ActionKind.ACK, f"incident:{HUGE}")
    assert not pressed.ok and not internal(pressed.text)
    assert (await incident(app, number)).status == "triggered"
    assert (await say(app, "U-ALICE", f"/ack #{number}")).ok


async def test_a_nul_character_is_refused_clearly(app: Tocsin, db: Database) -> None:
    reply = await say(app, "U-ALICE", "/rollback orders staging to=v1\x00")
    assert not reply.ok and "control character" in reply.text
    assert await count_runs(app) == 0


PREFIXES = [
    "",
    "/ack ",
    "/unack ",
    "/silence 1 ",
    "/resolve ",
    "/incident ",
    "/incident why ",
    "/deploy orders ",
    "/deploy orders v1 ",
    "/rollback orders staging ",
    "/rollback orders staging to=",
    "/history orders ",
    "/status ",
    "/lock ",
    "/unlock ",
    "/drill rollback orders ",
    "/approve ",
    "/cancel ",
    "/oncall ",
    "/oncall override alice ",
    "/oncall swap ",
    "/help ",
    "/lang ",
    "@tocsin ",
]
TEXTS = st.one_of(
    st.text(max_size=80),
    st.integers().map(str),
    st.text(alphabet='0123456789#+-=" \n\t\x00\x1b²４v.', max_size=40),
)


def test_no_text_makes_the_dispatcher_fail_inside(tmp_path: Path) -> None:
    """Arbitrary text, after each command's name, is answered; never "something went wrong"."""
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()

    async def start() -> Tocsin:
        db = await stack.enter_async_context(migrated(f"sqlite+aiosqlite:///{tmp_path / 't.db'}"))
        app = wire(db, FakeClock(), RecordingPlatform(), MemoryBackend("mem"))
        await open_incident(app)
        return app

    try:
        app = loop.run_until_complete(start())

        @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            prefix=st.sampled_from(PREFIXES), text=TEXTS, who=st.sampled_from(["U-ALICE", "U-BOB"])
        )
        def check(prefix: str, text: str, who: str) -> None:
            reply: Any = loop.run_until_complete(say(app, who, prefix + text))
            assert not internal(reply.text), (prefix + text, reply.text)

        check()
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()
