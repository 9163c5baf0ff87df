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
}
