"""Bolt reads SLACK_* variables in its constructor; with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET
present it would turn into a multi-workspace OAuth app. Tocsin's app stays on its bot token."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from fake_slack import FakeSlackApi
from slack_support import ALICE, adapter_of, block_actions, form, incident, interactive
from slack_support import slash_command as slash
from test_slack_http import action, open_card, slack_for

from bot.bootstrap import Tocsin
from bot.clock import FakeClock
from bot.i18n import t

OAUTH_ENVIRONMENT = {
    "SLACK_CLIENT_ID": "",
    "SLACK_CLIENT_SECRET": "",
    "SLACK_VERIFICATION_TOKEN": "legacy",
    "SLACK_BOT_TOKEN": "xoxb-another-workspace",
}


@pytest.mark.parametrize("client_id", ["", "1234.5678"])
async def test_oauth_variables_in_the_environment_change_nothing(
    make_tocsin: Callable[..., Tocsin],
    slack_api: FakeSlackApi,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    client_id: str,
) -> None:
    for name, value in OAUTH_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SLACK_CLIENT_ID", client_id)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", client_id and "secret")
    tocsin = make_tocsin(mode="http")
    posted = await open_card(tocsin, slack_api)
    press = block_actions(posted.blocks, action(posted, "ack"), ts=posted.ts, user=ALICE)
    async with slack_for(tocsin, clock) as slack:
        assert (await slack.post(interactive(press))).status_code == 200
        assert (await slack.post(form(slash(slack_api, "/help", "")))).status_code == 200
    row = await incident(tocsin, 1)
    assert (row.status, row.acked_by) == ("acknowledged", "Alice")
    acked = t("incident.acked", "en", id=1, user="Alice")
    assert acked in [m.text for m in slack_api.in_channel(posted.channel)]
    assert slack_api.hooks, "the slash command was answered through its response_url"

    app = adapter_of(tocsin).app(tocsin.dispatcher)
    assert app.oauth_flow is None and app.installation_store is None
    assert os.environ["SLACK_CLIENT_ID"] == client_id, "the environment is put back"
