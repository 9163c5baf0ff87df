"""Slack: Block Kit alert cards with working buttons, slash commands and @-mentions, in Socket
Mode or HTTP mode, on slack-bolt (async) and slack_sdk.

The composition root (`bot.bootstrap`) imports this package only when the settings have a
``slack:`` section, and uses two functions:

- `validate(raw)` — the section's problems, ``"<key.path>: message"`` each; empty when valid;
- `create(raw, clock=…, replays=…)` — a `SlackAdapter` (``platform``, ``routes(inbound)``,
  ``run(inbound)``).

Modules: `settings` (the section), `render` (Card → Block Kit), `web` + `errors` (Web API calls,
failures as delivery errors), `platform` (the outbound `ChatPlatform`), `translate` (payloads →
neutral requests), `listeners` (the Bolt app: store in the inbox, acknowledge, then work; and take
over stored requests), `verify` + `events_route` (HTTP mode), `socket_mode` (Socket Mode), `names`
(display names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.chat.slack.adapter import SlackAdapter
from adapters.chat.slack.settings import SlackSettings, parse, validate
from bot.clock import Clock
from bot.replay import Replays

__all__ = ["SlackAdapter", "SlackSettings", "create", "validate"]


def create(
    raw: Mapping[str, Any],
    *,
    clock: Clock,
    identities: Mapping[str, str] | None = None,
    replays: Replays | None = None,
) -> SlackAdapter:
    """The adapter for the raw ``slack:`` section (raises `ConfigError` when it is invalid).

    `identities` maps Tocsin user ids to Slack user ids, so ``slack:@<tocsin user>`` destinations
    reach that person's direct messages; without it only ``slack:@U…`` (Slack ids) do.

    `replays` remembers the signed HTTP requests already accepted: a `bot.replay.ReplayGuard`
    (``slack:replay``) keeps them in the database, so every replica refuses a replay. Without it
    they are kept in this process's memory only.
    """
    return SlackAdapter(parse(raw), clock=clock, identities=identities, replays=replays)
