"""Texts of the core: incidents, cards, buttons, authorization, commands."""

TEXTS: dict[str, dict[str, str]] = {
    # card fields and buttons
    "card.service": {"en": "Service", "zh": "服务"},
    "card.environment": {"en": "Environment", "zh": "环境"},
    "card.status": {"en": "Status", "zh": "状态"},
    "card.alerts": {"en": "Alerts", "zh": "告警数"},
    "card.firing": {"en": "{firing} firing of {total}", "zh": "{firing} 条告警中，共 {total} 条"},
    "card.started": {"en": "Started", "zh": "开始时间"},
    "card.acked_by": {"en": "Acknowledged by", "zh": "认领人"},
    "card.resolved_by": {"en": "Resolved by", "zh": "处理人"},
    "card.silenced_until": {"en": "Silenced until", "zh": "静默至"},
    "card.flapping": {
        "en": "Flapping: notifications are damped until it settles.",
        "zh": "告警抖动中：稳定前不再重复通知。",
    },
    "card.footer": {"en": "Incident #{id} · {route}", "zh": "事件 #{id} · {route}"},
    "button.ack": {"en": "Acknowledge", "zh": "认领"},
    "button.unack": {"en": "Unacknowledge", "zh": "取消认领"},
    "button.silence": {"en": "Silence {duration}", "zh": "静默 {duration}"},
    "button.resolve": {"en": "Resolve", "zh": "标记恢复"},
    "button.rollback": {"en": "Rollback", "zh": "回滚"},
    "button.cancel": {"en": "Cancel", "zh": "取消"},
    "button.ack_all": {"en": "Acknowledge all", "zh": "全部认领"},
    "button.silence_all": {"en": "Silence all {duration}", "zh": "全部静默 {duration}"},
    # digest
    "digest.title": {
        "en": "Alert storm: {count} incidents folded into this digest",
        "zh": "告警风暴：{count} 个事件已合并到此摘要",
    },
    "digest.by_service": {"en": "By service", "zh": "按服务"},
    "digest.by_tier": {"en": "By tier", "zh": "按级别"},
    "digest.top": {"en": "Top incidents", "zh": "主要事件"},
    "digest.open": {"en": "{open} of {total} open", "zh": "{open} 个未恢复，共 {total} 个"},
    "digest.body": {
        "en": "This chat's message budget cannot carry one card per incident right now. "
        "Use /incident list to see them all.",
        "zh": "当前群消息额度不足以逐条发送卡片，已合并展示。发送 /incident list 查看全部。",
    },
    # outcomes
    "incident.not_found": {"en": "Incident #{id} does not exist.", "zh": "事件 #{id} 不存在。"},
    "incident.acked": {
        "en": "{user} acknowledged incident #{id}.",
        "zh": "{user} 认领了事件 #{id}。",
    },
    "incident.already_acked": {
        "en": "Incident #{id} is already acknowledged by {user}.",
        "zh": "事件 #{id} 已由 {user} 认领。",
    },
    "incident.unacked": {
        "en": "{user} released incident #{id}; it is triggered again.",
        "zh": "{user} 取消了对事件 #{id} 的认领，事件重新进入告警状态。",
    },
    "incident.not_acked": {
        "en": "Incident #{id} is not acknowledged.",
        "zh": "事件 #{id} 尚未被认领。",
    },
    "incident.already_resolved": {
        "en": "Incident #{id} is already resolved.",
        "zh": "事件 #{id} 已经恢复。",
    },
    "incident.silenced": {
        "en": "{user} silenced incident #{id} for {duration} (until {until}).",
        "zh": "{user} 将事件 #{id} 静默 {duration}（至 {until}）。",
    },
    "incident.resolved": {
        "en": "{user} resolved incident #{id}.",
        "zh": "{user} 将事件 #{id} 标记为已恢复。",
    },
    "incident.ack_expired": {
        "en": "The acknowledgement of incident #{id} by {user} expired; it is triggered again.",
        "zh": "{user} 对事件 #{id} 的认领已过期，事件重新进入告警状态。",
    },
    "incident.silence_ended": {
        "en": "The silence on incident #{id} ended; it is still firing.",
        "zh": "事件 #{id} 的静默已结束，告警仍在持续。",
    },
    "incident.retriggered": {
        "en": "Incident #{id} fired again after being resolved.",
        "zh": "事件 #{id} 恢复后再次告警。",
    },
    "incident.no_rollback_target": {
        "en": "Incident #{id} names no service and environment, so there is nothing to roll back.",
        "zh": "事件 #{id} 没有关联服务和环境，无法回滚。",
    },
    "incident.rollback": {
        "en": "{user} asked for a rollback of {service} in {environment} ({message}); it waits "
        "for their Confirm on its card.",
        "zh": "{user} 请求回滚 {environment} 环境的 {service}（{message}），"
        "等待其在任务卡片上确认。",
    },
    "incident.usage": {
        "en": "Use /incident list, /incident show <number> or /incident why <number>.",
        "zh": "用法：/incident list、/incident show <编号> 或 /incident why <编号>。",
    },
    "incident.bad_duration": {
        "en": "{value!r} is not a duration; use e.g. 30m, 2h or 1d.",
        "zh": "{value!r} 不是有效时长，请使用 30m、2h 或 1d 等格式。",
    },
    "incident.rollback_unavailable": {
        "en": "{user} pressed Rollback for {service} in {environment}, but no deploy backend is "
        "configured: nothing was rolled back. Roll back by hand and note it here.",
        "zh": "{user} 请求回滚 {environment} 环境的 {service}，但尚未配置发布后端，"
        "未执行任何回滚。请手动回滚并在此记录。",
    },
    "incident.card_posted": {
        "en": "Incident #{id} {title}: its live card follows in this chat.",
        "zh": "事件 #{id} {title}：实时卡片即将发到本聊天。",
    },
    "incident.list_empty": {"en": "No open incidents.", "zh": "当前没有未恢复的事件。"},
    "incident.list_header": {"en": "Open incidents:", "zh": "未恢复的事件："},
    "digest.done": {
        "en": "{done} of {total} incidents: {verb}. {denied}",
        "zh": "{total} 个事件中 {done} 个已{verb}。{denied}",
    },
    "digest.denied": {
        "en": "Not allowed for: {ids}.",
        "zh": "以下事件无权限：{ids}。",
    },
    "digest.verb.ack": {"en": "acknowledged", "zh": "认领"},
    "digest.verb.silence": {"en": "silenced", "zh": "静默"},
    # authorization and identity
    "auth.unknown_person": {
        "en": "I don't know who you are ({platform} user {platform_user_id}). "
        "Ask an administrator to add your identity to Tocsin's users.",
        "zh": "无法识别您的身份（{platform} 用户 {platform_user_id}），"
        "请联系管理员在 Tocsin 用户配置中添加您的账号。",
    },
    "auth.denied": {
        "en": "You may not {action} {scope}: none of your roles ({roles}) grants it.",
        "zh": "您无权对 {scope} 执行「{action}」：您的角色（{roles}）没有此权限。",
    },
    "auth.no_roles": {"en": "none", "zh": "无"},
    "auth.scope": {"en": "{service} in {environment}", "zh": "{environment} 环境的 {service}"},
    "auth.scope_any": {"en": "anything", "zh": "任何对象"},
    "action.ack": {"en": "acknowledge", "zh": "认领"},
    "action.unack": {"en": "unacknowledge", "zh": "取消认领"},
    "action.silence": {"en": "silence", "zh": "静默"},
    "action.resolve": {"en": "resolve", "zh": "标记恢复"},
    "action.rollback": {"en": "roll back", "zh": "回滚"},
    "action.view": {"en": "view", "zh": "查看"},
    "action.deploy": {"en": "deploy", "zh": "发布"},
    "action.admin": {"en": "administer", "zh": "管理"},
    "error.internal": {
        "en": "Something went wrong on Tocsin's side; the error is logged (ref {ref}).",
        "zh": "Tocsin 内部出错，错误已记录（编号 {ref}）。",
    },
    "error.bad_card": {"en": "This card is not one of Tocsin's.", "zh": "无法识别此卡片。"},
    # commands
    "cmd.whoami": {
        "en": "You are {name} ({id}). Roles: {roles}. Language: {lang}. Time zone: {tz}.",
        "zh": "您是 {name}（{id}）。角色：{roles}。语言：{lang}。时区：{tz}。",
    },
    "cmd.lang_set": {"en": "Language set to English.", "zh": "语言已设置为中文。"},
    "cmd.chat_lang_set": {
        "en": "This chat's language is now English (people who chose their own keep it).",
        "zh": "本群语言已设置为中文（已自行设置语言的成员不受影响）。",
    },
    "cmd.help_header": {
        "en": "Commands you may run:",
        "zh": "您可以使用的命令：",
    },
    "cmd.help_none": {
        "en": "There are no commands you may run. Ask an administrator for a role.",
        "zh": "您当前没有可用的命令，请联系管理员分配角色。",
    },
    # action links
    "link.invalid": {
        "en": "This action link is invalid or was altered.",
        "zh": "操作链接无效或已被篡改。",
    },
    "link.expired": {"en": "This action link has expired.", "zh": "操作链接已过期。"},
    "link.used": {"en": "This action link was already used.", "zh": "操作链接已被使用。"},
    "link.used_by": {
        "en": "This action link was already used by {user}.",
        "zh": "操作链接已被 {user} 使用。",
    },
    "link.busy": {
        "en": "Someone is using this action link right now; open it again in a moment.",
        "zh": "有人正在使用此操作链接，请稍后重新打开。",
    },
    "link.confirm": {
        "en": "Confirm: {action} for {card} as {user}",
        "zh": "确认以 {user} 的身份对 {card} 执行「{action}」",
    },
    "link.sign_in": {
        "en": "Sign in with your Tocsin console token to act on this card.",
        "zh": "请使用 Tocsin 控制台令牌登录后再操作此卡片。",
    },
}
