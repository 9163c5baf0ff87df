"""Feishu / Lark: card JSON 2.0 alert cards with working buttons, @-commands in groups and
direct messages, over the long connection or the HTTP webhook, on lark-oapi.

The composition root (`bot.bootstrap`) imports this package only when the settings have a
``feishu:`` section, and uses two functions:

- `validate(raw)` — the section's problems, ``"<key.path>: message"`` each; empty when valid;
- `create(raw, clock=…, replays=…, identities=…)` —
  a `FeishuAdapter` (``platforms``, ``routes(inbound)``,
  ``run(inbound)``, ``aclose()``).

Modules: `settings` (the section), `render` (Card → card JSON 2.0), `openapi` + `errors` (Open
API calls, failures as delivery errors), `platform` + `memory` (the outbound `ChatPlatform`),
`ids` (whose id is whose), `translate` (events → neutral requests), `inbox` (events stored in
the core's inbox before Feishu is told OK, handled, answered, and taken over after a restart),
`crypto` + `verify` + `webhook` (webhook mode), `long_connection` (the WebSocket mode), `work`
(what runs after the acknowledgement).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.chat.feishu.adapter import FeishuAdapter
from adapters.chat.feishu.settings import FeishuSettings, parse, validate
from bot.clock import Clock
from bot.replay import Replays

__all__ = ["FeishuAdapter", "FeishuSettings", "create", "validate"]


def create(
    raw: Mapping[str, Any],
    *,
    clock: Clock,
    replays: Replays,
    identities: Mapping[str, str] | None = None,
) -> FeishuAdapter:
    """The adapter for the raw ``feishu:`` section (raises `ConfigError` when it is invalid).

    `identities` maps Tocsin user ids to Feishu ids (open_id, union_id or user_id), so
    ``feishu:@<tocsin user>`` destinations reach that person and inbound events are matched to
    people by whichever of their ids is configured.

    `replays` remembers the signed callbacks already accepted (in the database, so every
    replica refuses a replay).
    """
    return FeishuAdapter(parse(raw), clock=clock, replays=replays, identities=identities)
