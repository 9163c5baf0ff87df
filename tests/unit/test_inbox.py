"""The inbox: a request stored before the platform is told OK is carried out exactly once,
by the process that took it or, after its lease, by any other (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.inbox import LEASE, MAX_ATTEMPTS, Request, decode, encode
from bot.inbox.codec import pack, unpack
from bot.model import ActionKind, CardActionRequest, CommandRequest, Destination, Sender
from bot.store.tables import audit_log, inbox, incidents
from tests.support import firing

OPS = Destination("fake", "ops")


def ack_press(app: Tocsin, number: int, event_id: str = "press-1") -> CardActionRequest:
    return CardActionRequest(
        ActionKind.ACK,
        f"incident:{number}",
        "",
        Sender("fake", "U-ALICE", "Alice"),
        OPS,
        event_id,
        app.services.clock.now(),
    )


async def open_incident(app: Tocsin) -> int:
    result = await app.ingest.ingest([firing()])
    await app.engine.tick()
    return result.incident_ids[0]


async def rows(app: Tocsin, table: Any) -> list[Any]:
    async with app.services.db.connect() as conn:
        return list((await conn.execute(select(table))).all())


class Taken:
    """An adapter's resume callback: records what it was given and carries it out."""

    def __init__(self, app: Tocsin) -> None:
        self.app = app
        self.given: list[tuple[Request, dict[str, Any]]] = []

    async def __call__(self, request: Request, route: dict[str, Any]) -> None:
        self.given.append((request, route))
        await self.app.dispatcher.handle(request)


def test_requests_and_routes_survive_their_json() -> None:
    from dataclasses import dataclass
    from datetime import datetime

    now = FakeClock().now()
    command = CommandRequest("/ack 4", Sender("slack", "U1", "Bob"), OPS, "e1", now)
    press = CardActionRequest(
        ActionKind.SILENCE, "incident:4", "1h", command.sender, OPS, "e2", now
    )
    for request in (command, press):
        kind = "command" if request is command else "action"
        assert decode(kind, encode(request)) == request

    @dataclass(frozen=True)
    class Where:
        channel: str
        expires: datetime | None = None
        direct: bool = False

    where = Where("C1", now, True)
    assert unpack(Where, pack(where)) == where
    assert unpack(Where, {"channel": "C2"}) == Where("C2")


async def test_a_stored_request_is_done_once_by_whoever_handles_it(tocsin: Tocsin) -> None:
    number = await open_incident(tocsin)
    request = ack_press(tocsin, number)
    assert await tocsin.dispatcher.accept(request, {"channel": "ops"})
    assert not await tocsin.dispatcher.accept(request, {"channel": "ops"})  # a re-delivery
    reply = await tocsin.dispatcher.action(request)
    assert reply.ok and "acknowledged" in reply.text
    [row] = await rows(tocsin, inbox)
    assert row.state == "done" and row.route == {"channel": "ops"}
    # nothing is left to take over, however late
    taken = Taken(tocsin)
    tocsin.dispatcher.on_resume("fake", taken)
    tocsin.services.clock.advance(LEASE * 3)  # type: ignore[attr-defined]
    await tocsin.dispatcher.resume()
    assert taken.given == []


async def test_a_request_its_process_left_is_taken_over_after_the_lease(tocsin: Tocsin) -> None:
    number = await open_incident(tocsin)
    request = ack_press(tocsin, number)
    assert await tocsin.dispatcher.accept(request, {"channel": "ops", "token": "t-1"})
    # the accepting process dies here: nothing handles the press
    taken = Taken(tocsin)
    tocsin.dispatcher.on_resume("fake", taken)
    await tocsin.dispatcher.resume()
    assert taken.given == []  # still leased to the process that took it
    tocsin.services.clock.advance(LEASE + timedelta(seconds=1))  # type: ignore[attr-defined]
    await tocsin.dispatcher.resume()
    assert [(r.event_id, route["token"]) for r, route in taken.given] == [("press-1", "t-1")]
    [incident] = await rows(tocsin, incidents)
    assert incident.status == "acknowledged"
    [row] = await rows(tocsin, inbox)
    assert (row.state, row.attempts) == ("done", 2)
    acks = [a for a in await rows(tocsin, audit_log) if a.action == "button:ack"]
    assert [a.outcome for a in acks] == ["allowed"]
    # the platform's own retry of the press, after the takeover, changes nothing
    again = await tocsin.dispatcher.action(request)
    assert again.extra.get("duplicate")
    tocsin.services.clock.advance(LEASE * 2)  # type: ignore[attr-defined]
    await tocsin.dispatcher.resume()
    assert len(taken.given) == 1


async def test_without_an_adapter_the_request_is_still_carried_out(tocsin: Tocsin) -> None:
    number = await open_incident(tocsin)
    await tocsin.dispatcher.accept(ack_press(tocsin, number), {})
    tocsin.services.clock.advance(LEASE + timedelta(seconds=1))  # type: ignore[attr-defined]
    await tocsin.engine.tick()  # the engine's inbox pass
    [incident] = await rows(tocsin, incidents)
    assert incident.status == "acknowledged"


async def test_a_request_that_keeps_failing_is_given_up_and_audited(tocsin: Tocsin) -> None:
    number = await open_incident(tocsin)
    request = ack_press(tocsin, number)
    await tocsin.dispatcher.accept(request, {})
    attempts: list[int] = []

    async def crashes(request: Request, route: dict[str, Any]) -> None:
        attempts.append(1)  # and never finishes, like a process killed each time

    tocsin.dispatcher.on_resume("fake", crashes)
    for _ in range(MAX_ATTEMPTS + 2):
        tocsin.services.clock.advance(LEASE + timedelta(seconds=1))  # type: ignore[attr-defined]
        await tocsin.dispatcher.resume()
    assert len(attempts) == MAX_ATTEMPTS - 1  # the first attempt was the accepting process's
    [row] = await rows(tocsin, inbox)
    assert row.state == "failed"
    [given_up] = [a for a in await rows(tocsin, audit_log) if a.outcome == "failed"]
    assert given_up.action == "action" and "given up" in given_up.detail["error"]
