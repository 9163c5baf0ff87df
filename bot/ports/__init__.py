"""The ports the core talks through: adapters implement them, `bot.bootstrap` wires them, and
`adapters.conformance` makes mypy check every concrete adapter against its port.

- `chat`: `ChatPlatform`, its capabilities declared as data, and `PostedRef`; `GroupMembers`,
  the optional capability of filling a group (a Slack user group, a Feishu chat);
- `chat_adapter`: `ChatAdapter`, a whole chat platform (outbound surfaces, inbound routes,
  connection), and the `ChatAdapterFactory` each chat package offers as ``create``;
- `deploy`: `DeployBackend` and the run it starts, polls and cancels;
- `metrics`: `MetricsSource`, the PromQL queries release checks ask;
- `notify`: `Notifier`, one page on one channel; `Provider`, its place in a failover order;
  `ReceiptPoller`, a notifier asked for delivery reports; the reports and replies they give.

Only what an adapter implements is a port. Protocols the core implements itself and hands to
adapters (`bot.clock.Clock`, `bot.replay.Replays`, `bot.inbound.InboundHandler`) stay next to
their implementation, and the rollback hand-off between two core services lives in
`bot.incidents.rollback`.
"""

from bot.ports.chat import ChatCapabilities, ChatPlatform, GroupMembers, PostedRef
from bot.ports.chat_adapter import ChatAdapter, ChatAdapterFactory
from bot.ports.deploy import (
    BackendCapabilities,
    DeployBackend,
    DeployRequest,
    Phase,
    RunRef,
    RunStatus,
)
from bot.ports.metrics import NAN, NO_DATA, MetricsSource, QueryResult, Sample
from bot.ports.notify import (
    FINAL,
    Answer,
    DeliveryReport,
    DeliveryStatus,
    Notifier,
    Page,
    PhoneReply,
    Provider,
    Receipt,
    ReceiptPoller,
    Sent,
)

__all__ = [
    "FINAL",
    "NAN",
    "NO_DATA",
    "Answer",
    "BackendCapabilities",
    "ChatAdapter",
    "ChatAdapterFactory",
    "ChatCapabilities",
    "ChatPlatform",
    "DeliveryReport",
    "DeliveryStatus",
    "DeployBackend",
    "DeployRequest",
    "GroupMembers",
    "MetricsSource",
    "Notifier",
    "Page",
    "Phase",
    "PhoneReply",
    "PostedRef",
    "Provider",
    "QueryResult",
    "Receipt",
    "ReceiptPoller",
    "RunRef",
    "RunStatus",
    "Sample",
    "Sent",
]
