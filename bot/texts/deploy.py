"""Texts of deploys, rollbacks, approvals and locks."""

TEXTS: dict[str, dict[str, str]] = {
    "deploy.state.awaiting_confirmation": {"en": "Waiting for confirmation", "zh": "等待确认"},
    "deploy.state.awaiting_approval": {"en": "Waiting for approval", "zh": "等待审批"},
    "deploy.state.queued": {"en": "Queued", "zh": "排队中"},
    "deploy.state.starting": {"en": "Starting", "zh": "启动中"},
    "deploy.state.running": {"en": "Running", "zh": "执行中"},
    "deploy.state.cancelling": {"en": "Cancelling", "zh": "取消中"},
    "deploy.state.succeeded": {"en": "Succeeded", "zh": "成功"},
    "deploy.state.failed": {"en": "Failed", "zh": "失败"},
    "deploy.state.cancelled": {"en": "Cancelled", "zh": "已取消"},
    "deploy.state.denied": {"en": "Denied", "zh": "已拒绝"},
    "deploy.state.expired": {"en": "Expired", "zh": "已过期"},
    "deploy.card.title.deploy": {
        "en": "Deploy {service} {version} → {environment}",
        "zh": "发布 {service} {version} → {environment}",
    },
    "deploy.card.title.rollback": {
        "en": "Rollback {service} in {environment} → {version}",
        "zh": "回滚 {service}（{environment}）→ {version}",
    },
    "deploy.card.title_dry": {
        "en": "Dry run: {action} {service} {version} → {environment}",
        "zh": "试运行：{action} {service} {version} → {environment}",
    },
    "deploy.card.versions": {"en": "Versions", "zh": "版本"},
    "deploy.card.requested_by": {"en": "Requested by", "zh": "申请人"},
    "deploy.card.backend": {"en": "Backend", "zh": "执行后端"},
    "deploy.card.approvals": {"en": "Approvals", "zh": "审批"},
    "deploy.card.params": {"en": "Parameters", "zh": "参数"},
    "deploy.card.started": {"en": "Started", "zh": "开始"},
    "deploy.card.finished": {"en": "Finished", "zh": "结束"},
    "deploy.card.progress": {"en": "Progress", "zh": "进度"},
    "deploy.card.log": {"en": "Log: {url}", "zh": "日志：{url}"},
    "deploy.card.footer": {"en": "Run #{id}", "zh": "任务 #{id}"},
    "button.rollback_to": {"en": "Rollback to {version}", "zh": "回滚到 {version}"},
    "card.recent_deploys": {"en": "Recent deploys", "zh": "最近发布"},
    "button.confirm": {"en": "Confirm", "zh": "确认"},
    "button.approve": {"en": "Approve", "zh": "批准"},
    "button.deny": {"en": "Deny", "zh": "拒绝"},
    "deploy.asked": {
        "en": "Run #{id}: {action} {service} {versions} in {environment}. Confirm it on its card.",
        "zh": "任务 #{id}：{action} {service} {versions}（{environment}）。请在卡片上确认。",
    },
    "deploy.confirmed": {
        "en": "{user} confirmed run #{id}: queued.",
        "zh": "{user} 确认了任务 #{id}：已排队。",
    },
    "deploy.confirmed_approval": {
        "en": "{user} confirmed run #{id}: it waits for approval.",
        "zh": "{user} 确认了任务 #{id}：等待审批。",
    },
    "deploy.approved_queued": {
        "en": "{user} approved run #{id}: queued.",
        "zh": "{user} 批准了任务 #{id}：已排队。",
    },
    "deploy.approved_waiting": {
        "en": "{user} approved run #{id}; it needs more approvals.",
        "zh": "{user} 批准了任务 #{id}，还需要更多审批。",
    },
    "deploy.denied": {"en": "{user} denied run #{id}.", "zh": "{user} 拒绝了任务 #{id}。"},
    "deploy.cancelled": {"en": "{user} cancelled run #{id}.", "zh": "{user} 取消了任务 #{id}。"},
    "deploy.cancelling": {
        "en": "{user} asked to cancel run #{id}; the backend is being stopped.",
        "zh": "{user} 请求取消任务 #{id}，正在停止执行。",
    },
    "deploy.only_requester": {
        "en": "Only {user}, who asked for it, can confirm this run.",
        "zh": "只有申请人 {user} 可以确认此任务。",
    },
    "deploy.self_approval": {
        "en": "You asked for this run, so someone else must approve it.",
        "zh": "这是您申请的任务，需要由其他人审批。",
    },
    "deploy.not_approver": {
        "en": "You may not approve runs of {service} in {environment}.",
        "zh": "您无权审批 {service}（{environment}）的任务。",
    },
    "deploy.not_yours": {
        "en": "Only {user}, who asked for it, or someone who may deploy there can cancel it.",
        "zh": "只有申请人 {user} 或有发布权限的人可以取消。",
    },
    "deploy.unknown_run": {"en": "There is no run #{id}.", "zh": "没有任务 #{id}。"},
    "deploy.unknown_service": {
        "en": "There is no service {service!r}. Services: {known}",
        "zh": "没有服务 {service!r}。现有服务：{known}",
    },
    "deploy.unknown_environment": {
        "en": "{service} has no environment {environment!r}. Environments: {known}",
        "zh": "{service} 没有环境 {environment!r}。可用环境：{known}",
    },
    "deploy.no_target": {
        "en": "{service} is not set up to deploy to {environment} (services.{service}.deploy).",
        "zh": "{service} 未配置发布到 {environment}（services.{service}.deploy）。",
    },
    "deploy.bad_version": {
        "en": "{version!r} is not a version (letters, digits, '.', '_', '+', '-').",
        "zh": "{version!r} 不是有效版本号（字母、数字、'.'、'_'、'+'、'-'）。",
    },
    "deploy.bad_param": {
        "en": "{name!r} is not a parameter (write key=value, the key made of letters and digits).",
        "zh": "{name!r} 不是有效参数（写作 key=value，key 由字母和数字组成）。",
    },
    "deploy.not_verified": {
        "en": "{version} is not a verified version of {service} in {environment}; "
        "see /history {service} {environment}.",
        "zh": "{version} 不是 {service}（{environment}）已验证的版本；请看 /history {service} "
        "{environment}。",
    },
    "deploy.no_rollback_target": {
        "en": "{service} in {environment} has no earlier verified version to roll back to.",
        "zh": "{service}（{environment}）没有更早的已验证版本可回滚。",
    },
    "deploy.gone": {
        "en": "The artifact of {version} is gone ({backend} says so): pick another version.",
        "zh": "{version} 的制品已不存在（{backend}）：请选择其他版本。",
    },
    "deploy.already.succeeded": {"en": "Run #{id} already succeeded.", "zh": "任务 #{id} 已成功。"},
    "deploy.already.failed": {"en": "Run #{id} already failed.", "zh": "任务 #{id} 已失败。"},
    "deploy.already.cancelled": {"en": "Run #{id} was cancelled.", "zh": "任务 #{id} 已取消。"},
    "deploy.already.denied": {"en": "Run #{id} was denied.", "zh": "任务 #{id} 已被拒绝。"},
    "deploy.already.expired": {"en": "Run #{id} expired.", "zh": "任务 #{id} 已过期。"},
    "deploy.already.queued": {"en": "Run #{id} is already queued.", "zh": "任务 #{id} 已在排队。"},
    "deploy.already.awaiting_approval": {
        "en": "Run #{id} already waits for approval.",
        "zh": "任务 #{id} 已在等待审批。",
    },
    "deploy.already.awaiting_confirmation": {
        "en": "Run #{id} waits for its requester's confirmation first.",
        "zh": "任务 #{id} 需先由申请人确认。",
    },
    "deploy.already.starting": {"en": "Run #{id} is starting.", "zh": "任务 #{id} 正在启动。"},
    "deploy.already.running": {"en": "Run #{id} is running.", "zh": "任务 #{id} 正在执行。"},
    "deploy.already.cancelling": {
        "en": "Run #{id} is being cancelled.",
        "zh": "任务 #{id} 正在取消。",
    },
    "deploy.ended.deploy.succeeded": {
        "en": "✅ Run #{id} succeeded: deploy {service} {version} in {environment}. {message}",
        "zh": "✅ 任务 #{id} 成功：部署 {service} {version}（{environment}）。{message}",
    },
    "deploy.ended.deploy.failed": {
        "en": "❌ Run #{id} failed: deploy {service} {version} in {environment}. {message}",
        "zh": "❌ 任务 #{id} 失败：部署 {service} {version}（{environment}）。{message}",
    },
    "deploy.ended.deploy.cancelled": {
        "en": "⏹ Run #{id} was cancelled: deploy {service} {version} in {environment}.",
        "zh": "⏹ 任务 #{id} 已取消：部署 {service} {version}（{environment}）。",
    },
    "deploy.ended.rollback.succeeded": {
        "en": "↩️ {service} in {environment} rolled back to {version} (run #{id}).",
        "zh": "↩️ {service}（{environment}）已回滚到 {version}（任务 #{id}）。",
    },
    "deploy.ended.rollback.failed": {
        "en": "❌ The rollback of {service} in {environment} to {version} failed (run #{id}). "
        "{message}",
        "zh": "❌ {service}（{environment}）回滚到 {version} 失败（任务 #{id}）。{message}",
    },
    "deploy.ended.rollback.cancelled": {
        "en": "⏹ The rollback of {service} in {environment} to {version} was cancelled "
        "(run #{id}).",
        "zh": "⏹ {service}（{environment}）回滚到 {version} 已取消（任务 #{id}）。",
    },
    "deploy.ended.gated": {
        "en": "🔵 Run #{id}: {service} {version} is deployed in {environment}; the health gate "
        "watches it for about {minutes} min before it counts as verified.",
        "zh": "🔵 任务 #{id}：{service} {version} 已部署到 {environment}；健康检查将观察约 "
        "{minutes} 分钟，通过后才算验证。",
    },
    "deploy.ended.dry": {
        "en": "🧪 Dry run #{id} ended: {service} {version} in {environment}. {message}",
        "zh": "🧪 试运行任务 #{id} 已结束：{service} {version}（{environment}）。{message}",
    },
    "deploy.history.header": {
        "en": "Runs of {service}{where} (✓ verified):",
        "zh": "{service}{where} 的发布记录（✓ 已验证）：",
    },
    "deploy.history.empty": {
        "en": "{service} has no runs yet.",
        "zh": "{service} 还没有发布记录。",
    },
    "deploy.status.line": {
        "en": "{service} in {environment}: {version} (last verified: {verified})",
        "zh": "{service}（{environment}）：{version}（最近验证：{verified}）",
    },
    "deploy.lock.taken": {
        "en": "🔒 {scope} is locked by {user}: {reason}",
        "zh": "🔒 {user} 锁定了 {scope}：{reason}",
    },
    "deploy.lock.held": {
        "en": "{scope} is already locked by {user}: {reason}",
        "zh": "{scope} 已被 {user} 锁定：{reason}",
    },
    "deploy.lock.released": {"en": "🔓 {scope} is unlocked.", "zh": "🔓 {scope} 已解锁。"},
    "deploy.lock.none": {"en": "{scope} is not locked.", "zh": "{scope} 没有锁定。"},
    "deploy.lock.bad_scope": {
        "en": "Lock a service (orders), a service in one environment (orders:prod), an "
        "environment (prod) or all.",
        "zh": "可锁定服务（orders）、服务的某环境（orders:prod）、环境（prod）或 all。",
    },
    "deploy.lock.not_holder": {
        "en": "{scope} is held by {user}; only they or an admin can unlock it.",
        "zh": "{scope} 由 {user} 持有，只有其本人或管理员可以解锁。",
    },
    "deploy.lock.list": {"en": "Locks:", "zh": "锁定："},
    "action.approve": {"en": "approve deploys", "zh": "审批发布"},
    "action.lock": {"en": "lock deploys", "zh": "锁定发布"},
    "gate.title": {"en": "Health gate", "zh": "健康检查"},
    "gate.state.measuring": {"en": "Measuring", "zh": "检测中"},
    "gate.state.passed": {"en": "Passed ✓ (verified)", "zh": "通过 ✓（已验证）"},
    "gate.state.failed": {"en": "Failed ✗", "zh": "未通过 ✗"},
    "gate.state.inconclusive": {
        "en": "Inconclusive (no data or too little traffic): decide by hand",
        "zh": "无法判断（无数据或流量不足）：请人工决定",
    },
    "gate.state.countdown": {
        "en": "Failed ✗ — rolling back at {until} unless someone presses Hold",
        "zh": "未通过 ✗ — 将于 {until} 自动回滚，除非有人点击暂缓",
    },
    "gate.state.held": {
        "en": "Failed ✗ — held: decide by hand",
        "zh": "未通过 ✗ — 已暂缓：请人工决定",
    },
    "gate.state.rolled_back": {"en": "Failed ✗ — rolled back", "zh": "未通过 ✗ — 已回滚"},
    "button.hold": {"en": "Hold", "zh": "暂缓回滚"},
    "gate.held": {
        "en": "{user} held the rollback of run #{id}: nothing rolls back on its own now.",
        "zh": "{user} 暂缓了任务 #{id} 的回滚：不会再自动回滚。",
    },
    "gate.nothing_to_hold": {
        "en": "Run #{id} has no rollback counting down.",
        "zh": "任务 #{id} 没有正在倒计时的回滚。",
    },
    "alert_rollback.proposed": {
        "en": "⚠️ {service} {version} was deployed {minutes} min before incident #{id} "
        "(run #{run}). If it caused this, press Rollback on the card.",
        "zh": "⚠️ {service} {version} 在事件 #{id} 前 {minutes} 分钟发布（任务 #{run}）。"
        "如是它引起的，请点击卡片上的回滚。",
    },
    "alert_rollback.started": {
        "en": "↩️ {service} {version} was deployed {minutes} min before incident #{id} "
        "(run #{run}): rolling back automatically (run #{rollback}).",
        "zh": "↩️ {service} {version} 在事件 #{id} 前 {minutes} 分钟发布（任务 #{run}）："
        "正在自动回滚（任务 #{rollback}）。",
    },
    # the words of a run's honest outcome (`bot.deploys.outcome`)
    "deploy.action.deploy": {"en": "deploy", "zh": "部署"},
    "deploy.action.rollback": {"en": "rollback", "zh": "回滚"},
    "deploy.versions.first": {"en": "{version} (first deploy)", "zh": "{version}（首次发布）"},
    "deploy.versions.unknown": {
        "en": "{version} (previous version unknown)",
        "zh": "{version}（之前版本未知）",
    },
    "deploy.recent.line": {
        "en": "#{id} {action} {versions} · {status} · {user} · {time}",
        "zh": "#{id} {action} {versions} · {status} · {user} · {time}",
    },
    "deploy.recent.canary": {"en": "canary {weight}%", "zh": "金丝雀 {weight}%"},
    "deploy.zone.shown": {"en": "{time} {zone}", "zh": "{time}（{zone}）"},
    "deploy.zone.utc": {"en": "UTC", "zh": "世界标准时间"},
    "deploy.zone.beijing": {"en": "Beijing time", "zh": "北京时间"},
    "deploy.zone.offset": {"en": "{time} UTC{offset}", "zh": "{time}（时区 {offset}）"},
    "deploy.card.outcome": {"en": "Outcome", "zh": "结果"},
    "deploy.outcome.gate_watching": {
        "en": "health gate watching until {until}",
        "zh": "健康检查观察中（至 {until}）",
    },
    "deploy.outcome.gate_passed": {"en": "health gate passed", "zh": "健康检查通过"},
    "deploy.outcome.promoted": {
        "en": "promoted to all traffic (run #{run})",
        "zh": "已全量发布（任务 #{run}）",
    },
    "deploy.outcome.gate_unsure": {
        "en": "health gate could not tell: decide by hand",
        "zh": "健康检查无法判断：请人工决定",
    },
    "deploy.outcome.gate_failed": {"en": "health gate failed", "zh": "健康检查未通过"},
    "deploy.outcome.countdown": {
        "en": "rolling back at {until} unless someone presses Hold",
        "zh": "将于 {until} 自动回滚，除非有人点击暂缓",
    },
    "deploy.outcome.waiting_decision": {"en": "waiting for a decision", "zh": "等待人工决定"},
    "deploy.outcome.rolling_back_unknown": {
        "en": "rolling back (run #{run})",
        "zh": "回滚中（任务 #{run}）",
    },
    "deploy.outcome.rolling_back": {
        "en": "rolling back to {version} (run #{run})",
        "zh": "正在回滚到 {version}（任务 #{run}）",
    },
    "deploy.outcome.rolled_back": {
        "en": "rolled back to {version} ({who})",
        "zh": "已回滚到 {version}（{who}）",
    },
    "deploy.outcome.automatically": {"en": "automatically", "zh": "自动"},
    "deploy.outcome.by": {"en": "by {user}", "zh": "由 {user} 执行"},
    "deploy.outcome.rollback_ended": {
        "en": "rollback to {version} (run #{run}): {state}",
        "zh": "回滚到 {version}（任务 #{run}）：{state}",
    },
    # said aloud in the run's chats when its health gate fails or passes
    "gate.alarm.rolling_back": {
        "en": "🚨 Health gate failed for {service} {version} in {environment}: {what} — "
        "rolling back to {target} (run #{rollback})",
        "zh": "🚨 {service} {version}（{environment}）健康检查未通过：{what} — "
        "正在回滚到 {target}（任务 #{rollback}）",
    },
    "gate.alarm.countdown": {
        "en": "🚨 Health gate failed for {service} {version} in {environment}: {what} — "
        "rolling back in {minutes} min unless someone presses Hold on run #{id}",
        "zh": "🚨 {service} {version}（{environment}）健康检查未通过：{what} — "
        "{minutes} 分钟后自动回滚，除非有人在任务 #{id} 上点击暂缓",
    },
    "gate.alarm.waiting": {
        "en": "🚨 Health gate failed for {service} {version} in {environment}: {what} — "
        "waiting for a decision (run #{id})",
        "zh": "🚨 {service} {version}（{environment}）健康检查未通过：{what} — "
        "等待人工决定（任务 #{id}）",
    },
    "gate.alarm.after_rollback": {
        "en": "🚨 Health gate failed for {service} {version} in {environment} after the "
        "rollback: {what} — nothing more rolls back on its own: decide by hand (run #{id})",
        "zh": "🚨 {service} {version}（{environment}）回滚后健康检查仍未通过：{what} — "
        "不会再自动回滚，请人工处理（任务 #{id}）",
    },
    "gate.verified": {
        "en": "✅ {service} {version} in {environment} is verified: the health gate passed "
        "(run #{id}).",
        "zh": "✅ {service} {version}（{environment}）已验证：健康检查通过（任务 #{id}）。",
    },
    # what an ended run's card offers next
    "button.retry": {"en": "Retry", "zh": "重试"},
    "button.review": {"en": "View review", "zh": "查看复盘"},
    "deploy.review.none": {
        "en": "Run #{id} has no review draft.",
        "zh": "任务 #{id} 没有复盘草稿。",
    },
    "deploy.retry.refused": {
        "en": "Run #{id} cannot be asked for again from its card.",
        "zh": "任务 #{id} 不能从卡片上重新申请。",
    },
    # /status after a run that changed part of the service
    "deploy.status.why.cancelled": {
        "en": "run #{run} was cancelled part way",
        "zh": "任务 #{run} 中途取消",
    },
    "deploy.status.why.failed": {
        "en": "run #{run} failed part way",
        "zh": "任务 #{run} 中途失败",
    },
    "deploy.status.mixed": {
        "en": "{service} in {environment}: mixed — {new} on {new_share}%, {old} on {old_share}% "
        "since {why} (last verified: {verified})",
        "zh": "{service}（{environment}）：版本混合 — {new} 占 {new_share}%，{old} 占 "
        "{old_share}%，因为{why}（最近验证：{verified}）",
    },
    "deploy.status.unknown": {
        "en": "{service} in {environment}: unknown since {why} (last verified: {verified})",
        "zh": "{service}（{environment}）：版本未知，因为{why}（最近验证：{verified}）",
    },
    # the engine's own words on a run, kept in English and shown in each reader's language
    # (`bot.deploys.messages`)
    "deploy.msg.denied": {"en": "denied by {user}", "zh": "已被 {user} 拒绝"},
    "deploy.msg.cancelled": {"en": "cancelled by {user}", "zh": "已被 {user} 取消"},
    "deploy.msg.cancel_asked": {"en": "cancel asked by {user}", "zh": "{user} 已请求取消"},
    "deploy.msg.no_confirmation": {"en": "no confirmation in time", "zh": "未在时限内确认"},
    "deploy.msg.no_approval": {"en": "no approval in time", "zh": "未在时限内审批"},
    "deploy.msg.approvals_lapsed": {
        "en": "the approvals lapsed; approve again",
        "zh": "审批已过期，请重新审批",
    },
    "deploy.msg.started": {"en": "started", "zh": "已开始"},
    "deploy.msg.cancelling": {"en": "cancelling…", "zh": "取消中…"},
    "deploy.msg.retrying": {
        "en": "backend: {why}; trying again",
        "zh": "执行后端：{why}；稍后重试",
    },
    "deploy.msg.locked": {"en": "locked by {user}: {reason}", "zh": "已被 {user} 锁定：{reason}"},
    "deploy.msg.waiting_for": {"en": "waiting for run #{id}", "zh": "等待任务 #{id}"},
    "deploy.msg.join": {"en": "; ", "zh": "；"},
    "gate.note.error": {"en": "error: {error}", "zh": "错误：{error}"},
    "gate.note.no_data": {"en": "no data", "zh": "无数据"},
    "gate.note.no_traffic": {
        "en": "no traffic data, value {value}",
        "zh": "无流量数据，值 {value}",
    },
    "gate.note.low_traffic": {
        "en": "traffic {traffic} < {minimum}, value {value}",
        "zh": "流量 {traffic} < {minimum}，值 {value}",
    },
    "gate.note.failed": {"en": "{value} (failed)", "zh": "{value}（未通过）"},
    "gate.note.after_rollback": {
        "en": "{note} — the rollback's own checks failed: nothing more is rolled back "
        "automatically",
        "zh": "{note} — 回滚后的检查也未通过：不再自动回滚",
    },
    "gate.note.superseded": {
        "en": "{note} — not rolled back: run #{id} came since",
        "zh": "{note} — 未回滚：之后已有任务 #{id}",
    },
    "gate.note.no_rollback": {
        "en": "{note} — no rollback: {why}",
        "zh": "{note} — 无法回滚：{why}",
    },
    "gate.note.not_promoted": {
        "en": "{note} — not promoted: {why}",
        "zh": "{note} — 未全量发布：{why}",
    },
    "gate.note.irreversible": {
        "en": "{note} — run #{id} ({version}) carries an irreversible migration: roll back by hand",
        "zh": "{note} — 任务 #{id}（{version}）含不可逆的数据库迁移：请手动回滚",
    },
    "gate.note.held": {"en": "{note} — held by {user}", "zh": "{note} — 已由 {user} 暂缓"},
    "gate.note.gone": {"en": "the gate is gone", "zh": "健康检查配置已不存在"},
    "gate.line.measured": {
        "en": "{name}: {done}/{needed} measured",
        "zh": "{name}：已测 {done}/{needed}",
    },
    "gate.line.failures": {"en": "{count} failed", "zh": "{count} 次未通过"},
    "gate.line.unsure": {"en": "{count} inconclusive", "zh": "{count} 次无法判断"},
    "gate.line.last": {"en": "last {note} {mark}", "zh": "最近 {note} {mark}"},
    "gate.line.waiting": {"en": "waiting", "zh": "等待中"},
    "gate.line.join": {"en": ", ", "zh": "，"},
    "gate.verdict.passed": {"en": "passed", "zh": "通过"},
    "gate.verdict.failed": {"en": "failed", "zh": "未通过"},
    "gate.verdict.inconclusive": {"en": "inconclusive", "zh": "无法判断"},
    "deploy.reason.after": {"en": "after run #{id}", "zh": "继任务 #{id} 之后"},
    "deploy.reason.retry": {"en": "again after run #{id}", "zh": "重试任务 #{id}"},
    "deploy.reason.gate": {
        "en": "health gate of run #{id}: {why}",
        "zh": "任务 #{id} 的健康检查：{why}",
    },
    "deploy.reason.incident": {
        "en": "incident #{id} [{tier}] {minutes} min after run #{run} deployed {version}",
        "zh": "事件 #{id} [{tier}] 发生在任务 #{run} 发布 {version} 后 {minutes} 分钟",
    },
    "deploy.reason.drill": {"en": "rollback drill #{id}", "zh": "回滚演练 #{id}"},
    "deploy.reason.promotion": {
        "en": "promotion of canary run #{id}",
        "zh": "金丝雀任务 #{id} 全量发布",
    },
}
