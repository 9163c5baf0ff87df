"""Texts of Unsilence and of the silences Tocsin keeps in Alertmanager, as cards show them."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "button.unsilence": {"en": "Unsilence", "zh": "解除静默"},
    "action.unsilence": {"en": "unsilence", "zh": "解除静默"},
    "incident.unsilenced": {
        "en": "{user} lifted the silence on incident #{id}.",
        "zh": "{user} 解除了事件 #{id} 的静默。",
    },
    "incident.not_silenced": {
        "en": "Incident #{id} is not silenced.",
        "zh": "事件 #{id} 未被静默。",
    },
    "review.did.unsilence": {
        "en": "{who} lifted the silence on {what}",
        "zh": "{who} 解除了{what} 的静默",
    },
    # the card of a silenced incident whose alerts come from an Alertmanager with an API
    "silence.field": {"en": "Alertmanager silence", "zh": "Alertmanager 静默"},
    "silence.active": {
        "en": "Silenced in Alertmanager until {until} · id {id}",
        "zh": "已在 Alertmanager 中静默至 {until} · ID {id}",
    },
    "silence.found": {
        "en": "Silenced in Alertmanager by {who} until {until} · id {id}",
        "zh": "{who} 已在 Alertmanager 中静默至 {until} · ID {id}",
    },
    "silence.sending": {
        "en": "Alertmanager silence being created",
        "zh": "正在 Alertmanager 中创建静默",
    },
    "silence.pending": {
        "en": "Alertmanager silence pending (Alertmanager unreachable: {error}); retrying",
        "zh": "Alertmanager 静默尚未生效（无法连接 Alertmanager：{error}），正在重试",
    },
    "silence.refused": {
        "en": "Alertmanager refused the silence: {error}",
        "zh": "Alertmanager 拒绝了该静默：{error}",
    },
    "silence.scope.group": {"en": "the group: {matchers}", "zh": "整组：{matchers}"},
    "silence.scope.alerts": {
        "en": "{count} alerts one by one",
        "zh": "逐条静默 {count} 条告警",
    },
    "silence.scope.capped": {
        "en": "the first {count} of {total} alerts one by one",
        "zh": "逐条静默前 {count} 条告警（共 {total} 条）",
    },
}
