"""Status words: one vocabulary for incidents, runs, drills, swaps and digests (`bot.statuses`)."""

TEXTS: dict[str, dict[str, str]] = {
    # incidents (and digests, which count incidents)
    "status.triggered": {"en": "Triggered", "zh": "告警中"},
    "status.acknowledged": {"en": "Acknowledged", "zh": "已认领"},
    "status.resolved": {"en": "Resolved", "zh": "已恢复"},
    "status.silenced": {"en": "Silenced", "zh": "已静默"},
    # deploy and rollback runs
    "status.run.awaiting_confirmation": {"en": "Waiting for confirmation", "zh": "等待确认"},
    "status.run.awaiting_approval": {"en": "Waiting for approval", "zh": "等待审批"},
    "status.run.queued": {"en": "Queued", "zh": "排队中"},
    "status.run.starting": {"en": "Starting", "zh": "启动中"},
    "status.run.running": {"en": "Running", "zh": "执行中"},
    "status.run.cancelling": {"en": "Cancelling", "zh": "取消中"},
    "status.run.succeeded": {"en": "Succeeded", "zh": "成功"},
    "status.run.verifying": {"en": "Succeeded — health gate watching", "zh": "成功 — 健康检查中"},
    "status.run.verified": {"en": "Succeeded — health gate passed", "zh": "成功 — 健康检查通过"},
    "status.run.unverified": {
        "en": "Succeeded — health gate could not tell",
        "zh": "成功 — 健康检查无法判断",
    },
    "status.run.gate_failed": {"en": "Health gate failed", "zh": "健康检查未通过"},
    "status.run.rolling_back": {
        "en": "Health gate failed — rolling back",
        "zh": "健康检查未通过 — 回滚中",
    },
    "status.run.rolled_back": {"en": "Rolled back", "zh": "已回滚"},
    "status.run.failed": {"en": "Failed", "zh": "失败"},
    "status.run.cancelled": {"en": "Cancelled", "zh": "已取消"},
    "status.run.denied": {"en": "Denied", "zh": "已拒绝"},
    "status.run.expired": {"en": "Expired", "zh": "已过期"},
    # drills (a rehearsal of the rollback path)
    "status.drill.running": {"en": "Drill running", "zh": "演练中"},
    "status.drill.passed": {"en": "Drill passed", "zh": "演练通过"},
    "status.drill.failed": {"en": "Drill failed", "zh": "演练失败"},
    # swaps and takes of on-call shifts
    "status.swap.pending": {"en": "Waiting for an answer", "zh": "等待答复"},
    "status.swap.accepted": {"en": "Accepted", "zh": "已接受"},
    "status.swap.declined": {"en": "Declined", "zh": "已拒绝"},
    "status.swap.expired": {"en": "Expired", "zh": "已过期"},
    # review drafts
    "status.review.draft": {"en": "Draft", "zh": "草稿"},
}
