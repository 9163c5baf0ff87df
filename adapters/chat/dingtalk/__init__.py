"""DingTalk: an app robot over Stream mode (@-commands, direct messages, interactive alert cards
whose buttons call back) or HTTP mode, plus custom group robots (webhook + 加签) as an
outbound-only platform whose buttons are signed action links.

The composition root (`bot.bootstrap`) imports this package only when the settings have a
``dingtalk:`` section, and uses two functions:

- `validate(raw)` — the section's problems, ``"<key.path>: message"`` each; empty when valid;
- `create(raw, clock=…, replays=…, identities=…)` —
  a `DingTalkAdapter` (``platforms``, ``routes(inbound)``,
  ``run(inbound)``, ``connected``, ``aclose()``).

Modules: `settings` (the section), `render` (Card → template variables, markdown, robot
messages), `openapi` + `errors` (API calls, failures as delivery errors), `platform` (the app
robot's `ChatPlatform`), `robot` (custom robots' `ChatPlatform`), `signing` (加签 and callback
verification), `translate` (payloads → neutral requests), `handlers` + `stream` (Stream mode),
`callback_route` (HTTP mode), `replies` (each request stored in the core's inbox before the
acknowledgement, the work and answer after it, and the takeover of requests another process
stored and did not finish).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.chat.dingtalk.adapter import DingTalkAdapter
from adapters.chat.dingtalk.settings import DingTalkSettings, parse, validate
from bot.clock import Clock
from bot.replay import Replays

__all__ = ["DingTalkAdapter", "DingTalkSettings", "create", "validate"]


def create(
    raw: Mapping[str, Any],
    *,
    clock: Clock,
    replays: Replays,
    identities: Mapping[str, str] | None = None,
) -> DingTalkAdapter:
    """The adapter for the raw ``dingtalk:`` section (raises `ConfigError` when it is invalid).

    `identities` maps Tocsin user ids to DingTalk userIds, so ``dingtalk:@<tocsin user>``
    destinations reach that person's chat with the robot.

    `replays` remembers the signed callbacks already accepted (in the database, so every
    replica refuses a replay).
    """
    return DingTalkAdapter(parse(raw), clock=clock, replays=replays, identities=identities)
