"""Texts of maintenance windows: /maint, the card's mark, and what /incident why says."""

TEXTS: dict[str, dict[str, str]] = {
    "action.maint": {"en": "put into maintenance", "zh": "设置维护窗口"},
    "maint.usage": {
        "en": "Usage: /maint start <service|*> <environment|*> <duration> [reason…], "
        "/maint list, /maint end <window>",
        "zh": "用法：/maint start <服务|*> <环境|*> <时长> [原因…]、/maint list、"
        "/maint end <窗口编号>",
    },
    "maint.bad_duration": {
        "en": "{value!r} is not a duration for a window: say how long, e.g. 30m, 2h, 1d.",
        "zh": "{value!r} 不是有效的窗口时长，请写明多久，例如 30m、2h、1d。",
    },
    "maint.too_long": {
        "en": "{value} is longer than a window may last ({longest}, maintenance.max_duration).",
        "zh": "{value} 超过了维护窗口的最长时长（{longest}，maintenance.max_duration）。",
    },
    "maint.unknown": {"en": "There is no maintenance window #{id}.", "zh": "没有维护窗口 #{id}。"},
    "maint.already_ended": {
        "en": "Maintenance window #{id} has already ended.",
        "zh": "维护窗口 #{id} 已经结束。",
    },
    "maint.started": {
        "en": "Maintenance window #{id} for {service} in {environment} until {until}, "
        "opened by {by}: alerts are recorded and shown but page nobody (except {tiers}). "
        "/maint end {id} ends it early.",
        "zh": "{by} 为 {service}（{environment}）开启了维护窗口 #{id}，至 {until}："
        "期间告警照常记录和展示，但不呼叫任何人（{tiers} 除外）。"
        "输入 /maint end {id} 可提前结束。",
    },
    "maint.ended": {
        "en": "Maintenance window #{id} for {service} in {environment} ended by {by}: "
        "alerts page again.",
        "zh": "{by} 结束了 {service}（{environment}）的维护窗口 #{id}：告警恢复呼叫。",
    },
    "maint.any": {"en": "every one", "zh": "全部"},
    "maint.list_empty": {
        "en": "No maintenance window now or in the next 24 hours.",
        "zh": "当前及未来 24 小时内没有维护窗口。",
    },
    "maint.list_header": {
        "en": "Maintenance windows, now and in the next 24 hours:",
        "zh": "当前及未来 24 小时内的维护窗口：",
    },
    "maint.line.active": {
        "en": "#{id} {service} / {environment} · {kind} · now: {what}",
        "zh": "#{id} {service} / {environment} · {kind} · 进行中：{what}",
    },
    "maint.line.upcoming": {
        "en": "#{id} {service} / {environment} · {kind} · from {start}: {what}",
        "zh": "#{id} {service} / {environment} · {kind} · {start} 开始：{what}",
    },
    "maint.kind.manual": {"en": "by hand", "zh": "手动"},
    "maint.kind.deploy": {"en": "deploy", "zh": "发布"},
    "maint.kind.recurring": {"en": "recurring", "zh": "定期"},
    # the card's mark
    "card.maintenance": {"en": "Maintenance", "zh": "维护"},
    "maint.when.until": {"en": "until {until}", "zh": "至 {until}"},
    "maint.when.ended": {"en": "ended {until}", "zh": "已于 {until} 结束"},
    "maint.when.open": {"en": "until it ends", "zh": "直至结束"},
    "maint.when.rollout": {
        "en": "while it rolls out (by {until} at the latest)",
        "zh": "发布进行中，最晚至 {until}",
    },
    "maint.mark.recurring": {
        "en": "{reason}, {when} (by configuration)",
        "zh": "{reason}，{when}（按配置）",
    },
    "maint.mark.deploy": {
        "en": "during deploy of {version} by {by}, {when}",
        "zh": "{by} 发布 {version} 期间，{when}",
    },
    "maint.mark.rollback": {
        "en": "during rollback to {version} by {by}, {when}",
        "zh": "{by} 回滚至 {version} 期间，{when}",
    },
    "maint.mark.manual": {
        "en": "/maint by {by}: {reason}, {when}",
        "zh": "{by} 开启的 /maint：{reason}，{when}",
    },
    "maint.no_reason": {"en": "no reason given", "zh": "未说明原因"},
    # /incident why
    "why.maintenance": {
        "en": "Paging held {ran}: maintenance window #{id} until {until}.",
        "zh": "呼叫已于 {ran} 暂缓：维护窗口 #{id}，至 {until}。",
    },
    "why.maintenance_deploy": {
        "en": "Paging held {ran}: deploy window #{id}, until the rollout ends (at the latest "
        "{until}).",
        "zh": "呼叫已于 {ran} 暂缓：发布窗口 #{id}，直至发布结束（最迟 {until}）。",
    },
    "why.maintenance_open": {
        "en": "Paging held {ran}: maintenance window #{id}, until it ends.",
        "zh": "呼叫已于 {ran} 暂缓：维护窗口 #{id}，直至其结束。",
    },
    "why.maintenance_pages": {
        "en": "• in maintenance window #{id}, but this tier pages all the same",
        "zh": "• 处于维护窗口 #{id}，但此级别照常呼叫",
    },
}
