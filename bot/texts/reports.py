"""Texts of the noise report: its CLI tables, suggestions and the weekly card."""

TEXTS: dict[str, dict[str, str]] = {
    "report.noise.title": {
        "en": "Alert noise {since} – {until}",
        "zh": "告警噪音报告 {since} – {until}",
    },
    "report.noise.scope.all": {
        "en": "All services: {n} incidents opened.",
        "zh": "全部服务：共打开 {n} 个事件。",
    },
    "report.noise.scope.services": {
        "en": "Services {services}: {n} incidents opened.",
        "zh": "服务 {services}：共打开 {n} 个事件。",
    },
    "report.noise.night_is": {
        "en": "Night is {start}–{end} on each paged person's clock.",
        "zh": "夜间指被呼叫者本地时间 {start}–{end}。",
    },
    "report.noise.none": {"en": "Nothing to report.", "zh": "无。"},
    "report.noise.status": {"en": "Weekly report", "zh": "周报"},
    "report.noise.quiet": {
        "en": "A quiet period: no incident was opened and no review waits for its follow-ups.",
        "zh": "本期平静：没有新事件，也没有等待跟进的复盘。",
    },
    "report.noise.more": {"en": "… and {n} more", "zh": "… 另有 {n} 条"},
    "report.noise.footer": {
        "en": "Details: {command}",
        "zh": "详情：{command}",
    },
    # sections
    "report.noise.section.top_alerts": {"en": "Top alerts", "zh": "最频繁的告警"},
    "report.noise.section.flapping": {"en": "Flapping alerts", "zh": "抖动的告警"},
    "report.noise.section.resolved_unacked": {
        "en": "Resolved before anyone acknowledged",
        "zh": "无人认领即已恢复",
    },
    "report.noise.section.never_acked": {
        "en": "Never acknowledged (still open)",
        "zh": "从未被认领（仍未恢复）",
    },
    "report.noise.section.night_pages": {"en": "Pages at night", "zh": "夜间呼叫"},
    "report.noise.section.tiers": {
        "en": "MTTA and MTTR per tier",
        "zh": "各级别平均认领与恢复时长",
    },
    "report.noise.section.stale_reviews": {
        "en": "Reviews with follow-ups open for over a week",
        "zh": "跟进项超过一周未完成的复盘",
    },
    # card lines
    "report.line.top_alerts": {
        "en": "{alert} · {service} [{tier}]: {incidents} incidents, {pages} pages → {do}",
        "zh": "{alert} · {service} [{tier}]：{incidents} 个事件，{pages} 次呼叫 → {do}",
    },
    "report.line.flapping": {
        "en": "{alert} · {service}: {incidents} flapping, {changes} state changes → {do}",
        "zh": "{alert} · {service}：抖动 {incidents} 次，状态变化 {changes} 次 → {do}",
    },
    "report.line.resolved_unacked": {
        "en": "{alert} · {service}: {incidents}, open {median} (median) → {do}",
        "zh": "{alert} · {service}：{incidents} 个，持续 {median}（中位数） → {do}",
    },
    "report.line.never_acked": {
        "en": "{alert} · {service} [{tier}]: {incidents} open, {pages} pages → {do}",
        "zh": "{alert} · {service} [{tier}]：{incidents} 个未处理，{pages} 次呼叫 → {do}",
    },
    "report.line.night_pages": {
        "en": "{person} ({time_zone}): {night_pages} of {pages} pages at night → {do}",
        "zh": "{person}（{time_zone}）：{pages} 次呼叫中 {night_pages} 次在夜间 → {do}",
    },
    "report.line.tiers": {
        "en": "{tier}: {incidents} incidents, MTTA {mtta} ({acked} acknowledged), "
        "MTTR {mttr} ({resolved} resolved) → {do}",
        "zh": "{tier}：{incidents} 个事件，平均认领 {mtta}（{acked} 个已认领），"
        "平均恢复 {mttr}（{resolved} 个已恢复） → {do}",
    },
    "report.line.stale_reviews": {
        "en": "#{incident_id} {title} ({service}): {open_items} open since {oldest} → {do}",
        "zh": "#{incident_id} {title}（{service}）：{open_items} 项自 {oldest} 起未完成 → {do}",
    },
    # columns of the Markdown tables
    "report.col.alert": {"en": "Alert", "zh": "告警"},
    "report.col.service": {"en": "Service", "zh": "服务"},
    "report.col.tier": {"en": "Tier", "zh": "级别"},
    "report.col.incidents": {"en": "Incidents", "zh": "事件数"},
    "report.col.alerts": {"en": "Alerts", "zh": "告警数"},
    "report.col.pages": {"en": "Pages", "zh": "呼叫数"},
    "report.col.resolved_unacked": {"en": "Resolved unacked", "zh": "未认领即恢复"},
    "report.col.never_acked": {"en": "Never acked", "zh": "从未认领"},
    "report.col.changes": {"en": "State changes", "zh": "状态变化"},
    "report.col.by_monitoring": {"en": "Ended by itself", "zh": "自行恢复"},
    "report.col.median_open_seconds": {"en": "Median open", "zh": "持续时长中位数"},
    "report.col.person": {"en": "Person", "zh": "人员"},
    "report.col.time_zone": {"en": "Time zone", "zh": "时区"},
    "report.col.night_pages": {"en": "At night", "zh": "夜间"},
    "report.col.low_tier_night_pages": {"en": "P2/P3 at night", "zh": "夜间 P2/P3"},
    "report.col.acked": {"en": "Acknowledged", "zh": "已认领"},
    "report.col.mtta_seconds": {"en": "MTTA", "zh": "平均认领时长"},
    "report.col.resolved": {"en": "Resolved", "zh": "已恢复"},
    "report.col.mttr_seconds": {"en": "MTTR", "zh": "平均恢复时长"},
    "report.col.incident_id": {"en": "Incident", "zh": "事件"},
    "report.col.run_id": {"en": "Run", "zh": "发布"},
    "report.col.title": {"en": "Title", "zh": "标题"},
    "report.col.open_items": {"en": "Open items", "zh": "未完成项"},
    "report.col.oldest": {"en": "Open since", "zh": "起始时间"},
    "report.col.suggestion": {"en": "Suggestion", "zh": "建议"},
    # durations
    "report.dur.hm": {"en": "{h}h {m}m", "zh": "{h} 小时 {m} 分"},
    "report.dur.ms": {"en": "{m}m {s}s", "zh": "{m} 分 {s} 秒"},
    # suggestions (report.do.<code>)
    "report.do.none": {"en": "no change needed", "zh": "无需调整"},
    "report.do.add_for": {
        "en": "add a `{field}: {minutes}m` duration to its rule",
        "zh": "为告警规则增加 `{field}: {minutes}m` 持续时间",
    },
    "report.do.raise_threshold": {
        "en": "raise its threshold ({per_day} a day)",
        "zh": "提高告警阈值（每天 {per_day} 次）",
    },
    "report.do.silence_label": {
        "en": "silence the known-noisy {matcher} or fix the rule",
        "zh": "静默已知噪音 {matcher}，或修正规则",
    },
    "report.do.lower_tier": {
        "en": "route it to a lower tier: it ends without anyone",
        "zh": "降低告警级别：无人处理也会结束",
    },
    "report.do.check_escalation": {
        "en": "check the escalation policy and on-call coverage",
        "zh": "检查升级策略与值班覆盖",
    },
    "report.do.day_only": {
        "en": "page P2/P3 in working hours only ({pages} at night)",
        "zh": "P2/P3 仅在工作时间呼叫（夜间 {pages} 次）",
    },
    "report.do.share_load": {
        "en": "share the night load: a follow-the-sun rotation or more people",
        "zh": "分担夜间负担：跨时区轮值或增加人手",
    },
    "report.do.close_followups": {
        "en": "close or reassign its {items} open follow-ups",
        "zh": "完成或转派其 {items} 个未完成跟进项",
    },
}
