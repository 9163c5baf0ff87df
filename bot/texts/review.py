"""Texts of reviews: the draft written after a rollback, and the report of a rollback drill."""

TEXTS: dict[str, dict[str, str]] = {
    "review.title.rollback": {
        "en": "Rollback of {service} in {environment}: {bad} → {good}",
        "zh": "{environment} 环境 {service} 的回滚：{bad} → {good}",
    },
    "review.title.canary": {
        "en": "Removal of the canary of {service} in {environment}: {bad} → {good}",
        "zh": "撤下 {environment} 环境 {service} 的金丝雀：{bad} → {good}",
    },
    "review.title.drill": {
        "en": "Rollback drill of {service} in {environment}",
        "zh": "{environment} 环境 {service} 的回滚演练",
    },
    "review.footer": {
        "en": "Draft written by Tocsin from the run log; edit it for the review.",
        "zh": "由 Tocsin 根据运行记录生成的草稿，复盘前请修改。",
    },
    "review.footer.drill": {
        "en": "Drill #{id} · written by Tocsin from the run log",
        "zh": "演练 #{id} · 由 Tocsin 根据运行记录生成",
    },
    # fields
    "review.field.service": {"en": "Service", "zh": "服务"},
    "review.field.owner": {"en": "Owner", "zh": "负责人"},
    "review.field.bad": {"en": "Bad release", "zh": "问题版本"},
    "review.field.restored": {"en": "Restored", "zh": "恢复到"},
    "review.field.why": {"en": "Why", "zh": "原因"},
    "review.field.incident": {"en": "Incident", "zh": "事件"},
    "review.field.restore_time": {"en": "Time to restore", "zh": "恢复用时"},
    "review.bad": {
        "en": "{version} (run #{id}, asked by {who})",
        "zh": "{version}（任务 #{id}，{who} 申请）",
    },
    "review.bad.canary": {
        "en": "{version} (run #{id}, asked by {who}, on a canary at {weight} %)",
        "zh": "{version}（任务 #{id}，{who} 申请，金丝雀流量 {weight} %）",
    },
    "review.restored": {
        "en": "{version} (run #{id}, {state})",
        "zh": "{version}（任务 #{id}，{state}）",
    },
    "review.why.gate": {
        "en": "the health gate failed: {detail}",
        "zh": "健康检查未通过：{detail}",
    },
    "review.why.gate_person": {
        "en": "{who} rolled back after the health gate failed: {detail}",
        "zh": "健康检查未通过（{detail}），{who} 执行了回滚",
    },
    "review.why.incident": {
        "en": "incident #{id} [{tier}] {title}",
        "zh": "事件 #{id} [{tier}] {title}",
    },
    "review.why.person": {"en": "{who} rolled it back", "zh": "{who} 手动回滚"},
    "review.duration.seconds": {"en": "{s} s", "zh": "{s} 秒"},
    "review.duration.minutes": {"en": "{m} min {s} s", "zh": "{m} 分 {s} 秒"},
    "review.link.run": {"en": "Run #{id}", "zh": "任务 #{id}"},
    # sections
    "review.section.gate": {"en": "Health gate measurements", "zh": "健康检查测量"},
    "review.section.timeline": {"en": "Timeline ({zone})", "zh": "时间线（{zone}）"},
    "review.section.follow": {"en": "Follow-up", "zh": "后续事项"},
    "review.measure.header": {
        "en": "Time ({zone}) · Metric · Measured · Result",
        "zh": "时间（{zone}） · 指标 · 测量值 · 结果",
    },
    "review.measure.no_data": {"en": "no data", "zh": "无数据"},
    "review.measure.low_traffic": {
        "en": "too little traffic (value {value})",
        "zh": "流量不足（测量值 {value}）",
    },
    "review.measure.error": {"en": "the query failed", "zh": "查询失败"},
    "review.outcome.success": {"en": "passed", "zh": "通过"},
    "review.outcome.failure": {"en": "failed", "zh": "未通过"},
    "review.outcome.inconclusive": {"en": "inconclusive", "zh": "无法判断"},
    "review.outcome.error": {"en": "error", "zh": "出错"},
    # the timeline: runs, gates and the incident
    "review.run.asked.deploy": {
        "en": "{who} asked to deploy {version} (run #{id})",
        "zh": "{who} 申请发布 {version}（任务 #{id}）",
    },
    "review.run.asked.rollback": {
        "en": "{who} asked to roll back to {version} (run #{id})",
        "zh": "{who} 申请回滚到 {version}（任务 #{id}）",
    },
    "review.run.asked.other": {
        "en": "{who} asked for run #{id} ({version})",
        "zh": "{who} 申请了任务 #{id}（{version}）",
    },
    "review.run.started": {
        "en": "run #{id} started on {backend}",
        "zh": "任务 #{id} 在 {backend} 上开始执行",
    },
    "review.run.ended": {"en": "run #{id} ended: {state}", "zh": "任务 #{id} 结束：{state}"},
    "review.gate.failed": {
        "en": "the health gate of run #{id} failed: {detail}",
        "zh": "任务 #{id} 的健康检查未通过：{detail}",
    },
    "review.gate.passed": {
        "en": "the health gate of run #{id} passed",
        "zh": "任务 #{id} 的健康检查通过",
    },
    "review.gate.undecided": {
        "en": "the health gate of run #{id} could not decide",
        "zh": "任务 #{id} 的健康检查无法判定",
    },
    "review.incident.opened": {
        "en": "incident #{id} opened: [{tier}] {title}",
        "zh": "事件 #{id} 触发：[{tier}] {title}",
    },
    # the timeline: buttons pressed (audit entries), by the button's action
    "review.what.run": {"en": "run #{id}", "zh": "任务 #{id}"},
    "review.what.incident": {"en": "incident #{id}", "zh": "事件 #{id}"},
    "review.did.ack": {"en": "{who} acknowledged {what}", "zh": "{who} 认领了{what}"},
    "review.did.unack": {"en": "{who} released {what}", "zh": "{who} 取消认领了{what}"},
    "review.did.silence": {
        "en": "{who} silenced {what} for {value}",
        "zh": "{who} 将{what} 静默 {value}",
    },
    "review.did.resolve": {"en": "{who} resolved {what}", "zh": "{who} 将{what} 标记为已恢复"},
    "review.did.escalate": {"en": "{who} escalated {what}", "zh": "{who} 升级了{what}"},
    "review.did.rollback": {
        "en": "{who} pressed Rollback on {what}",
        "zh": "{who} 在{what} 上按下了回滚",
    },
    "review.did.confirm": {"en": "{who} confirmed {what}", "zh": "{who} 确认了{what}"},
    "review.did.approve": {"en": "{who} approved {what}", "zh": "{who} 批准了{what}"},
    "review.did.deny": {"en": "{who} denied {what}", "zh": "{who} 拒绝了{what}"},
    "review.did.cancel": {"en": "{who} cancelled {what}", "zh": "{who} 取消了{what}"},
    "review.did.hold": {
        "en": "{who} held the rollback of {what}",
        "zh": "{who} 暂停了{what} 的自动回滚",
    },
    "review.did.promote": {
        "en": "{who} promoted the canary of {what}",
        "zh": "{who} 将{what} 的金丝雀全量发布",
    },
    "review.did.other": {"en": "{who} acted on {what}", "zh": "{who} 操作了{what}"},
    "review.did.refused": {
        "en": "{who} tried to act on {what} but was not allowed",
        "zh": "{who} 尝试操作{what}，但没有权限",
    },
    "review.did.failed": {
        "en": "{who} acted on {what}, but it failed",
        "zh": "{who} 对{what} 的操作失败",
    },
    # follow-ups
    "review.follow.cause": {
        "en": "Find the root cause of the failure in {version}",
        "zh": "查明 {version} 故障的根本原因",
    },
    "review.follow.test": {
        "en": "Add a test or a check that would have caught it before production",
        "zh": "补充能在上线前发现该问题的测试或检查",
    },
    "review.follow.gate": {
        "en": "Check that the health gate's thresholds caught it early enough",
        "zh": "确认健康检查的阈值能足够早地发现问题",
    },
    "review.follow.fix": {
        "en": "Decide when and how to ship the fix",
        "zh": "确定修复的发布时间和方式",
    },
    # drill reports
    "review.drill.passed": {
        "en": "Passed — rolled back in {restore}, the health gate caught the bad build in "
        "{detect}.",
        "zh": "通过 — {restore}内完成回滚，健康检查在 {detect}内发现了问题版本。",
    },
    "review.drill.failed": {
        "en": "Failed — the rollback (run #{id}) ended: {state}.",
        "zh": "失败 — 回滚（任务 #{id}）结束：{state}。",
    },
    "review.follow.drill_rollback": {
        "en": "Find why the rollback of {service} in {environment} did not restore {version}",
        "zh": "查明 {environment} 环境 {service} 的回滚为何未能恢复到 {version}",
    },
    "review.follow.drill_again": {
        "en": "Run the drill again once it is fixed: /drill rollback {service}",
        "zh": "修复后再次演练：/drill rollback {service}",
    },
    # tracked follow-up items (`bot.reviews.followups`)
    "review.item.done": {
        "en": "[x] {text} — done by {who}, {when}",
        "zh": "[x] {text} — {who} 已完成，{when}",
    },
    "action.done": {"en": "mark a follow-up done", "zh": "标记后续事项完成"},
    "action.undone": {"en": "reopen a follow-up", "zh": "重新打开后续事项"},
    "review.button.done": {"en": "Done {n}", "zh": "完成 {n}"},
    "review.button.undo": {"en": "Undo {n}", "zh": "撤销 {n}"},
    "review.marked.done": {
        "en": "{user} marked follow-up #{id} done: {text}",
        "zh": "{user} 已将后续事项 #{id} 标记为完成：{text}",
    },
    "review.marked.undone": {
        "en": "{user} reopened follow-up #{id}: {text}",
        "zh": "{user} 重新打开了后续事项 #{id}：{text}",
    },
    "review.already.done": {
        "en": "Follow-up #{id} was already done (by {who}).",
        "zh": "后续事项 #{id} 已经完成（{who}）。",
    },
    "review.already.open": {
        "en": "Follow-up #{id} is not done yet.",
        "zh": "后续事项 #{id} 尚未完成。",
    },
    "review.item.unknown": {
        "en": "There is no follow-up #{id}. /review list shows the open ones.",
        "zh": "没有编号为 #{id} 的后续事项。/review list 可查看未完成的事项。",
    },
    "review.usage": {
        "en": "Usage: /review list [service], /review done <item>, /review undo <item>, "
        "/review show <incident> or /review show run:<n>.",
        "zh": "用法：/review list [服务]、/review done <事项编号>、/review undo <事项编号>、"
        "/review show <事件编号> 或 /review show run:<编号>。",
    },
    "review.list.header": {
        "en": "Open follow-ups, oldest first:",
        "zh": "未完成的后续事项（最早的在前）：",
    },
    "review.list.header_service": {
        "en": "Open follow-ups of {service}, oldest first:",
        "zh": "{service} 未完成的后续事项（最早的在前）：",
    },
    "review.list.empty": {
        "en": "No follow-up is open. 🎉",
        "zh": "没有未完成的后续事项。🎉",
    },
    "review.list.review": {
        "en": "Review of run #{run} · {service} · {environment}{incident} · written {age} · "
        "/review show run:{run}",
        "zh": "任务 #{run} 的复盘 · {service} · {environment}{incident} · 写于{age} · "
        "/review show run:{run}",
    },
    "review.list.incident": {"en": " · incident #{id}", "zh": " · 事件 #{id}"},
    "review.list.item": {
        "en": "  ☐ #{id} {text} (open {age})",
        "zh": "  ☐ #{id} {text}（已 {age} 未完成）",
    },
    "review.list.more": {
        "en": "… and {n} more; name a service to see fewer.",
        "zh": "…… 还有 {n} 项；指定服务可缩小范围。",
    },
    "review.none": {
        "en": "There is no review for {what}.",
        "zh": "{what} 没有复盘。",
    },
    # similar past incidents on an incident's card (`bot.reviews.similar`)
    "review.similar.section": {"en": "Similar past incidents", "zh": "相似的历史事件"},
    "review.similar.line": {
        "en": "#{id} · {when} — {ended} · {review}",
        "zh": "#{id} · {when} — {ended} · {review}",
    },
    "review.similar.resolved_by": {
        "en": "resolved by {who} after {spent}",
        "zh": "由 {who} 解决，用时 {spent}",
    },
    "review.similar.resolved_itself": {
        "en": "its alerts cleared after {spent}",
        "zh": "告警在 {spent}后自行恢复",
    },
    "review.similar.open": {"en": "still open ({status})", "zh": "仍未关闭（{status}）"},
    "review.similar.review": {"en": "review: /review show {id}", "zh": "复盘：/review show {id}"},
    "review.similar.no_review": {"en": "no review", "zh": "无复盘"},
    "review.span.minutes": {"en": "{m} min", "zh": "{m} 分钟"},
    "review.span.hours": {"en": "{h} h {m} min", "zh": "{h} 小时 {m} 分钟"},
    "review.span.days": {"en": "{d} d {h} h", "zh": "{d} 天 {h} 小时"},
}
