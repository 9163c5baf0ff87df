"""Texts of heartbeats: the blind-monitoring alert and /heartbeat list."""

TEXTS: dict[str, dict[str, str]] = {
    # the blind-monitoring alert (in tocsin.language)
    "heartbeat.alert.watchdog": {
        "en": "Monitoring is blind: no {alert} from {source} for {span}",
        "zh": "监控已失明：{span}未收到 {source} 的 {alert} 告警",
    },
    "heartbeat.alert.http": {
        "en": "No heartbeat from {name} for {span}",
        "zh": "{span}未收到 {name} 的心跳",
    },
    "heartbeat.alert.last_seen": {
        "en": "Last beat at {when} ({via}); expected every {interval}, with {grace} of grace.",
        "zh": "最后一次心跳在 {when}（{via}）；应每 {interval} 一次，宽限 {grace}。",
    },
    "heartbeat.alert.never": {
        "en": "No beat since Tocsin began watching at {when}; expected every {interval}, "
        "with {grace} of grace.",
        "zh": "自 Tocsin 于 {when} 开始等待以来没有任何心跳；应每 {interval} 一次，宽限 {grace}。",
    },
    "heartbeat.alert.back": {
        "en": "{name} beats again (last beat at {when}, {via}).",
        "zh": "{name} 已恢复心跳（最后一次在 {when}，{via}）。",
    },
    "heartbeat.via.http": {"en": "over HTTP", "zh": "经接口上报"},
    "heartbeat.via.watchdog": {"en": "{alert} from {source}", "zh": "来自 {source} 的 {alert}"},
    "heartbeat.span.seconds": {"en": "{n} s", "zh": "{n} 秒"},
    "heartbeat.span.minutes": {"en": "{n} min", "zh": "{n} 分钟"},
    "heartbeat.span.hours": {"en": "{n} h", "zh": "{n} 小时"},
    "heartbeat.span.days": {"en": "{n} days", "zh": "{n} 天"},
    # /heartbeat list
    "heartbeat.none_configured": {
        "en": "No heartbeats are configured (heartbeats in the configuration).",
        "zh": "未配置任何心跳（见配置文件的心跳一节）。",
    },
    "heartbeat.title": {"en": "Heartbeats:", "zh": "心跳："},
    "heartbeat.line": {
        "en": "{mark} {name}: {state}; last beat {seen}; every {interval} + {grace} grace",
        "zh": "{mark} {name}：{state}；最后心跳 {seen}；每 {interval}，宽限 {grace}",
    },
    "heartbeat.line.via": {"en": "{seen} ({via})", "zh": "{seen}（{via}）"},
    "heartbeat.never": {"en": "never", "zh": "从未"},
    "heartbeat.state.ok": {"en": "ok", "zh": "正常"},
    "heartbeat.state.missing": {"en": "MISSING since {since}", "zh": "自 {since} 起缺失"},
    "heartbeat.state.waiting": {"en": "waiting for a first beat", "zh": "等待第一次心跳"},
}
