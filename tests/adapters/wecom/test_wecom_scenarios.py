"""The self-built app and the group robot through the real core: Tocsin from `bootstrap`, its
ASGI app, callbacks encrypted and signed as WeCom sends them, our httpx client against the fake
WeCom API. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fake_wecom import FakeWeCom, Sent
from sqlalchemy import update
from wecom_support import (
    Signed,
    WeComSide,
    adapter_of,
    app_side,
    audit,
    card_refs,
    incident,
    key_of,
    press_xml,
    text_xml,
)

from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.i18n import t
from bot.model import ActionKind, Button, ButtonStyle, Card, Destination, Tier
from bot.store.tables import incidents
from tests.support import firing

ACKED = t("incident.acked", "en", id=1, user="Alice")


class WeCom:
    """Sends what WeCom would send to Tocsin's /wecom/callback, on Tocsin's clock."""

    def __init__(self, client: httpx.AsyncClient, side: WeComSide, tocsin: Tocsin) -> None:
        self.client, self.side, self.tocsin = client, side, tocsin

    async def post(self, signed: Signed, path: str = "/wecom/callback") -> httpx.Response:
        response = await self.client.post(path, params=signed.params, content=signed.body)
        await adapter_of(self.tocsin).idle()
        return response

    async def press(
        self, card: Sent, action: str, *, user: str = "alice", code: str, at: int | None = None
    ) -> httpx.Response:
        stamp = at if at is not None else int(self.side.clock.now().timestamp())
        key = key_of(card.card, action)
        return await self.post(
            self.side.app_xml(press_xml(user, card.task_id, key, code, create_time=stamp))
        )


@asynccontextmanager
async def wecom_for(tocsin: Tocsin, clock: FakeClock) -> AsyncIterator[WeCom]:
    transport = httpx.ASGITransport(app=tocsin.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        yield WeCom(client, app_side(clock), tocsin)


async def page(tocsin: Tocsin, api: FakeWeCom, name: str = "HighErrorRate") -> Sent:
    await tocsin.ingest.ingest([firing(name)])
    await tocsin.engine.tick()
    return api.cards_to("alice")[-1]


async def test_a_p0_alert_pages_the_on_call_and_tells_the_group(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom
) -> None:
    tocsin = make_tocsin()
    card = await page(tocsin, wecom_api)
    shown = card.card
    assert shown["card_type"] == "button_interaction"
    assert shown["main_title"]["title"].startswith("[P0] HighErrorRate")
    assert shown["source"] == {"desc": "🔴 P0 · Tocsin", "desc_color": 2}
    assert next(b["text"] for b in shown["button_list"]) == "Acknowledge"
    (broadcast,) = wecom_api.robot("ops")
    assert broadcast["msgtype"] == "markdown"
    content = broadcast["markdown"]["content"]
    assert content.startswith('### 🔴 <font color="warning">[P0] HighErrorRate')
    assert "[Acknowledge](http://tocsin.test/a/" in content, "a signed action link"
    assert len(wecom_api.calls_to("gettoken")) == 1
    refs = await card_refs(tocsin)
    assert refs[0]["destination"] == "wecom:@alice"
    assert (refs[0]["task_id"], refs[0]["userid"]) == (card.task_id, "alice")
    assert refs[0]["response_code"].startswith("code-send-")
    assert refs[1] == {"destination": "wecom-robot:ops", "robot": "ops"}


async def test_acknowledge_press_updates_the_card_with_its_response_code(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    tocsin = make_tocsin()
    card = await page(tocsin, wecom_api)
    code = wecom_api.press_code(card.task_id)
    async with wecom_for(tocsin, clock) as wecom:
        response = await wecom.press(card, "ack", code=code)
    assert (response.status_code, response.text) == (200, "")
    row = await incident(tocsin, 1)
    assert (row.status, row.acked_by) == ("acknowledged", "Alice")
    assert wecom_api.texts_to("alice") == [ACKED]

    await tocsin.engine.tick()
    (update,) = wecom_api.calls_to("message/update_template_card")
    assert update.body["response_code"] == code, "the press's fresh code, not the stored one"
    assert update.body["userids"] == ["alice"]
    shown = card.card
    assert shown["main_title"]["desc"].startswith("🔵 Acknowledged")
    assert next(json.loads(b["key"])["a"] for b in shown["button_list"]) == "unack"
    _before, after = wecom_api.robot("ops")
    assert "Acknowledged" in after["markdown"]["content"], "the group is told"
    (entry,) = await audit(tocsin)
    assert (entry.actor, entry.platform, entry.action, entry.outcome) == (
        "alice",
        "wecom",
        "button:ack",
        "allowed",
    )


async def test_codes_are_spent_once_then_the_card_is_posted_anew(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    tocsin = make_tocsin()
    card = await page(tocsin, wecom_api)
    async with wecom_for(tocsin, clock) as wecom:
        await wecom.press(card, "ack", code=wecom_api.press_code(card.task_id))
        await tocsin.engine.tick()  # spends the press's code; the stored one is left
        clock.advance(5)
        await wecom.press(card, "unack", code=wecom_api.press_code(card.task_id))
        await tocsin.engine.tick()
    codes = [c.body["response_code"] for c in wecom_api.calls_to("message/update_template_card")]
    assert all(code.startswith("code-press-") for code in codes) and len(set(codes)) == 2
    # the pressed card's reference (other chats' cards may have been stored first)
    [ref] = [r for r in await card_refs(tocsin) if r.get("task_id") == card.task_id]
    assert ref["response_code"].startswith("code-send-"), "still unspent"

    async with tocsin.services.db.begin() as conn:  # a change nobody pressed for
        row = await tocsin.services.incidents.load(conn, 1, lock=True)
        await tocsin.services.incidents.resolve(conn, row, "Bob", clock.now())
    await tocsin.engine.tick()
    assert (
        wecom_api.calls_to("message/update_template_card")[-1].body["response_code"]
        == (ref["response_code"])
    )
    async with tocsin.services.db.begin() as conn:  # the same status: left as it is
        row = await tocsin.services.incidents.load(conn, 1, lock=True)
        await tocsin.services.incidents.refresh_cards(conn, row, clock.now())
    await tocsin.engine.tick()
    assert len(wecom_api.cards_to("alice")) == 1
    async with tocsin.services.db.begin() as conn:  # re-opened: a status nobody pressed for
        await conn.execute(update(incidents).where(incidents.c.id == 1).values(status="triggered"))
        row = await tocsin.services.incidents.load(conn, 1, lock=True)
        await tocsin.services.incidents.refresh_cards(conn, row, clock.now())
    await tocsin.engine.tick()
    cards = wecom_api.cards_to("alice")
    assert len(cards) == 2, "no code left: the card is posted anew"
    [new_ref] = [r for r in await card_refs(tocsin) if r.get("userid") == ref["userid"]]
    assert new_ref["task_id"] == cards[1].task_id != card.task_id
    assert new_ref["status"] == "triggered"


async def test_a_press_without_the_grant_is_refused_and_changes_nothing(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    tocsin = make_tocsin(destinations=["wecom:@alice", "wecom:carol", "wecom-robot:ops"])
    await page(tocsin, wecom_api)
    (carols,) = wecom_api.cards_to("carol")
    async with wecom_for(tocsin, clock) as wecom:
        await wecom.press(carols, "ack", user="carol", code=wecom_api.press_code(carols.task_id))
    scope = t("auth.scope", "en", service="orders", environment="prod")
    denial = t("auth.denied", "en", action=t("action.ack", "en"), scope=scope, roles="viewer")
    assert wecom_api.texts_to("carol") == [denial]
    assert (await incident(tocsin, 1)).status == "triggered"
    await tocsin.engine.tick()
    assert wecom_api.calls_to("message/update_template_card") == []
    assert len(wecom_api.robot("ops")) == 1
    (entry,) = await audit(tocsin)
    assert (entry.actor, entry.target, entry.outcome) == ("carol", "incident:1 ack", "denied")


async def test_a_callback_retried_by_wecom_is_processed_once(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    tocsin = make_tocsin()
    card = await page(tocsin, wecom_api)
    code = wecom_api.press_code(card.task_id)
    stamp = int(clock.now().timestamp())
    async with wecom_for(tocsin, clock) as wecom:
        first = await wecom.press(card, "ack", code=code, at=stamp)
        clock.advance(6)  # no answer within 5 s as far as WeCom knows: it sends it again
        again = await wecom.press(card, "ack", code=code, at=stamp)
    assert (first.status_code, again.status_code) == (200, 200)
    assert wecom_api.texts_to("alice") == [ACKED]
    assert len(await audit(tocsin)) == 1
    await tocsin.engine.tick()
    assert len(wecom_api.calls_to("message/update_template_card")) == 1


async def test_forged_stale_replayed_and_malformed_callbacks_change_nothing(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    tocsin = make_tocsin()
    card = await page(tocsin, wecom_api)
    before = len(wecom_api.calls)
    now = int(clock.now().timestamp())
    plain = press_xml("alice", card.task_id, key_of(card.card, "ack"), "c", create_time=now)
    async with wecom_for(tocsin, clock) as wecom:
        signed = wecom.side.app_xml(plain)
        forged = await wecom.post(Signed(signed.params | {"msg_signature": "0" * 40}, signed.body))
        stale = await wecom.post(wecom.side.app_xml(plain, timestamp=now - 301))
        early = await wecom.post(wecom.side.app_xml(plain, timestamp=now + 301))
        unsigned = await wecom.client.post("/wecom/callback", content=signed.body)
        other_corp = WeComSide(wecom.side.crypt.token, "A" * 43, "ww_other", clock)
        wrong_key = await wecom.post(other_corp.app_xml(plain))
        garbage = await wecom.post(wecom.side.app_xml("<xml><Content>"))
        huge = await wecom.client.post(
            "/wecom/callback", params=signed.params, content=b"x" * 70_000
        )
        statuses = [
            r.status_code for r in (forged, stale, early, unsigned, wrong_key, garbage, huge)
        ]
        assert statuses == [401, 401, 401, 401, 400, 400, 413]
        assert "msg_signature does not match" in forged.text
        assert "stale or future timestamp" in stale.text
        # another key decrypts to noise: whichever layout check notices first refuses it
        noise = ("bad padding", "receive id", "too short", "runs past its end", "not UTF-8")
        assert any(reason in wrong_key.text for reason in noise), wrong_key.text
        assert "not well-formed XML" in garbage.text
        assert len(wecom_api.calls) == before
        assert (await incident(tocsin, 1)).status == "triggered"
        assert await audit(tocsin) == []

        first = await wecom.post(signed)
        replayed = await wecom.post(signed)
    assert (first.status_code, replayed.status_code) == (200, 401)
    assert "replayed" in replayed.text
    assert len(await audit(tocsin)) == 1


async def test_url_verification(make_tocsin: Callable[..., Tocsin], clock: FakeClock) -> None:
    tocsin = make_tocsin()
    async with wecom_for(tocsin, clock) as wecom:
        echo = wecom.side.crypt.encrypt("1288432023552776189")
        params = wecom.side.query(echo) | {"echostr": echo}
        answer = await wecom.client.get("/wecom/callback", params=params)
        assert (answer.status_code, answer.text) == (200, "1288432023552776189")
        forged = await wecom.client.get(
            "/wecom/callback", params=params | {"msg_signature": "1" * 40}
        )
        assert forged.status_code == 401


async def test_a_message_to_the_app_is_a_command(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    tocsin = make_tocsin()
    await page(tocsin, wecom_api)
    now = int(clock.now().timestamp())
    async with wecom_for(tocsin, clock) as wecom:
        await wecom.post(wecom.side.app_xml(text_xml("alice", "ack 1", create_time=now)))
        json_body = json.dumps(
            {"ToUserName": "x", "FromUserName": "bob", "CreateTime": now, "MsgType": "text",
             "Content": "@tocsin /incident list", "MsgId": 77, "AgentID": 1000002}
        )  # fmt: skip
        await wecom.post(wecom.side.app_json(json_body))
    assert (await incident(tocsin, 1)).status == "acknowledged"
    assert wecom_api.texts_to("alice") == [ACKED]
    (listing,) = wecom_api.texts_to("bob")
    assert listing.startswith(t("incident.list_header", "en"))
    assert [(e.actor, e.target) for e in await audit(tocsin)] == [
        ("alice", "/ack 1"),
        ("bob", "/incident list"),
    ]


async def test_rollback_is_authorized_before_anything_asks(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    """Rollback has no confirmation step of its own on the incident card: a dialog there would
    ask before the grant is checked. The press is authorized and audited at once; a rollback run
    then waits for the presser's Confirm on its own card (here no backend is configured)."""
    tocsin = make_tocsin()
    card = await page(tocsin, wecom_api)
    async with wecom_for(tocsin, clock) as wecom:
        await wecom.press(card, "rollback", code=wecom_api.press_code(card.task_id))
    (entry,) = await audit(tocsin)
    assert (entry.action, entry.outcome) == ("button:rollback", "allowed")
    unavailable = t(
        "incident.rollback_unavailable", "en", user="Alice", service="orders", environment="prod"
    )
    await tocsin.engine.tick()
    assert unavailable in wecom_api.texts_to("alice")


async def test_a_confirming_button_asks_first_and_cancel_restores_the_card(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    """A button with a confirmation (Promote, say) is shown to the presser as a confirmation
    card in place; its Cancel shows the card as it was, and nothing happens."""
    tocsin = make_tocsin()
    await page(tocsin, wecom_api)
    asks = Button("Go", ActionKind.ACK, style=ButtonStyle.PRIMARY, confirm="Really go?")
    shown = Card("incident:1", "HighErrorRate", Tier.P0, "triggered", buttons=(asks,))
    platform = adapter_of(tocsin).app
    assert platform is not None
    await platform.post_card(Destination("wecom", "@alice"), shown, lang="en")
    card = wecom_api.cards_to("alice")[-1]
    original = card.card
    async with wecom_for(tocsin, clock) as wecom:
        await wecom.press(card, "ack", code=wecom_api.press_code(card.task_id))
        asking = card.card
        assert asking["quote_area"]["quote_text"] == "Really go?"
        assert await audit(tocsin) == [], "nothing happens before the confirmation"
        cancel = asking["button_list"][1]["key"]
        stamp = int(clock.now().timestamp()) + 1
        plain = press_xml(
            "alice", card.task_id, cancel, wecom_api.press_code(card.task_id), create_time=stamp
        )
        await wecom.post(wecom.side.app_xml(plain))
    assert card.card["button_list"] == original["button_list"]
    assert await audit(tocsin) == []


async def test_expired_tokens_are_fetched_again(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    tocsin = make_tocsin()
    await page(tocsin, wecom_api)
    wecom_api.expire_tokens()
    await page(tocsin, wecom_api, "Other")
    assert len(wecom_api.calls_to("gettoken")) == 2
    assert len(wecom_api.cards_to("alice")) == 2
    clock.advance(timedelta(hours=3))  # past expires_in: fetched before the next call
    await page(tocsin, wecom_api, "Third")
    assert len(wecom_api.calls_to("gettoken")) == 3


async def test_robot_rate_limits_are_honoured_through_the_outbox(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    tocsin = make_tocsin(destinations=["wecom-robot:ops"])
    wecom_api.fail("webhook/send", errcode=45009)
    await tocsin.ingest.ingest([firing()])
    await tocsin.engine.tick()
    assert wecom_api.robot("ops") == []
    clock.advance(59)
    await tocsin.engine.tick()
    assert len(wecom_api.calls_to("webhook/send")) == 1, "nothing before the minute is up"
    clock.advance(2)
    await tocsin.engine.tick()
    assert len(wecom_api.robot("ops")) == 1


async def test_a_replay_to_another_replica_is_refused(
    make_tocsin: Callable[..., Tocsin], wecom_api: FakeWeCom, clock: FakeClock
) -> None:
    one, two = make_tocsin(), make_tocsin()  # one database
    card = await page(one, wecom_api)
    now = int(clock.now().timestamp())
    plain = press_xml("alice", card.task_id, key_of(card.card, "ack"), "c", create_time=now)
    async with wecom_for(one, clock) as first, wecom_for(two, clock) as second:
        signed = first.side.app_xml(plain)
        accepted = await first.post(signed)
        replayed = await second.post(signed)
    assert (accepted.status_code, replayed.status_code) == (200, 401)
    assert "replayed" in replayed.text
    assert len(await audit(one)) == 1


async def test_a_failed_callback_is_released_for_its_retry_on_another_replica(
    make_tocsin: Callable[..., Tocsin], clock: FakeClock
) -> None:
    one, two = make_tocsin(), make_tocsin()
    async with wecom_for(one, clock) as first, wecom_for(two, clock) as second:
        signed = first.side.app_xml("<xml><Content>")
        failed = await first.post(signed)
        retried = await second.post(signed)
    assert (failed.status_code, retried.status_code) == (400, 400)
    assert "not well-formed XML" in retried.text, "handled again, not refused as a replay"
