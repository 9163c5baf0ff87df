"""WeCom (企业微信): interactive alert cards to the on-call person, group @-commands through the
AI bot, and broadcasts through group robots. No SDK: a small httpx client and WXBizMsgCrypt on
`cryptography`.

The composition root (`bot.bootstrap`) imports this package only when the settings have a
``wecom:`` section, and uses two functions:

- `validate(raw)` — the section's problems, ``"<key.path>: message"`` each; empty when valid;
- `create(raw, clock=…, replays=…, identities=…)` —
  a `WeComAdapter` (``platforms``, ``routes(inbound)``,
  ``run(inbound)``, ``aclose()``).

Modules: `settings` (the section), `crypto` + `verify` + `envelope` (callbacks: signature,
AES, replay window, XML/JSON), `api` + `errors` (HTTP calls, failures as delivery errors),
`render` + `robot_render` + `keys` + `text` (Card → template cards, markdown, button keys),
`platform` (the outbound `ChatPlatform`s), `memory` (response codes and cards shown),
`translate` (callbacks → neutral requests), `app_inbound` + `aibot_inbound` + `routes` (the
inbound side), `inbox` (what is stored with each request before WeCom is answered, to answer it
from any replica), `adapter` (the whole). What runs after the answer is `adapters.chat.work`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.chat.wecom.adapter import WeComAdapter
from adapters.chat.wecom.settings import WeComSettings, parse, validate
from bot.clock import Clock
from bot.replay import Replays

__all__ = ["WeComAdapter", "WeComSettings", "create", "validate"]


def create(
    raw: Mapping[str, Any],
    *,
    clock: Clock,
    replays: Replays,
    identities: Mapping[str, str] | None = None,
) -> WeComAdapter:
    """The adapter for the raw ``wecom:`` section (raises `ConfigError` when it is invalid).

    `identities` maps Tocsin user ids to WeCom userids, so ``wecom:@<tocsin user>`` destinations
    reach that person through the app; ``wecom:<userid>`` names a WeCom userid directly.

    `replays` remembers the signed callbacks already accepted (in the database, so every
    replica refuses a replay).
    """
    return WeComAdapter(parse(raw), clock=clock, replays=replays, identities=identities)
