"""Texts of paging, escalation, explanations and the /oncall command."""

TEXTS: dict[str, dict[str, str]] = {
    # pages
    "page.subject": {"en": "[{tier}] #{id} {title}", "zh": "[{tier}] #{id} {title}"},
    "page.sms": {
        "en": "Tocsin [{tier}] #{id} {title} ({service}/{environment}). Acknowledge: {url}",
        "zh": "Tocsin [{tier}] #{id} {title}（{service}/{environment}）。认领：{url}",
    },
    "page.voice": {
        "en": "This is Tocsin. A {tier} incident, number {id}: {title}, on {service}. "
        "Please acknowledge it in chat or with the link in your messages.",
        "zh": "这里是 Tocsin。{tier} 级事件，编号 {id}：{title}，服务 {service}。"
        "请在聊天中或通过消息里的链接认领。",
    },
    "page.email": {
        "en": "Incident #{id} needs you.\n\nTier: {tier}\nTitle: {title}\n"
        "Service: {service}\nEnvironment: {environment}\n\n"
        "Acknowledge with one click (the link works for you only and expires): {url}",
        "zh": "事件 #{id} 需要你处理。\n\n级别：{tier}\n标题：{title}\n服务：{service}\n"
        "环境：{environment}\n\n一键认领（链接仅限本人使用，会过期）：{url}",
    },
    "page.chat": {
        "en": "🔔 You are paged for incident #{id} [{tier}] {title} "
        "(step {step} of policy {policy}). Acknowledge on the card.",
        "zh": "🔔 你被呼叫处理事件 #{id} [{tier}] {title}（策略 {policy} 第 {step} 步）。"
        "请在卡片上认领。",
    },
    "page.chat_group": {
        "en": "🔔 Paging this chat for incident #{id} [{tier}] {title} "
        "(step {step} of policy {policy}).",
        "zh": "🔔 呼叫本群处理事件 #{id} [{tier}] {title}（策略 {policy} 第 {step} 步）。",
    },
    # escalation from people
    "button.escalate": {"en": "Escalate", "zh": "升级"},
    "action.oncall": {"en": "change on-call schedules", "zh": "调整值班排班"},
    "escalation.escalated": {
        "en": "{user} escalated incident #{id}: the next step pages now.",
        "zh": "{user} 升级了事件 #{id}：立即呼叫下一步。",
    },
    "escalation.not_triggered": {
        "en": "Incident #{id} is not triggered, so there is nobody to escalate to.",
        "zh": "事件 #{id} 不在告警状态，无需升级。",
    },
    "escalation.no_policy": {
        "en": "Incident #{id} has no escalation policy (its route names none).",
        "zh": "事件 #{id} 没有升级策略（其路由未配置）。",
    },
    # why
    "why.header": {
        "en": "Why incident #{id} paged whom — route {route}, tier {tier}",
        "zh": "事件 #{id} 的呼叫说明 — 路由 {route}，级别 {tier}",
    },
    "why.policy": {"en": "Policy: {policy}", "zh": "策略：{policy}"},
    "why.none": {
        "en": "No escalation policy applies (route {route}, tier {tier}): nobody is paged; "
        "the card goes to the route's chats only.",
        "zh": "没有适用的升级策略（路由 {route}，级别 {tier}）："
        "不呼叫任何人，只在路由的群里发卡片。",
    },
    "why.not_started": {
        "en": "No escalation has started yet (the incident is {status}).",
        "zh": "尚未开始升级（事件状态：{status}）。",
    },
    "why.step": {
        "en": "Step {step} (round {loop}) ran {ran} (due {due}):",
        "zh": "第 {step} 步（第 {loop} 轮）于 {ran} 执行（计划 {due}）：",
    },
    "why.paged": {"en": "• {who} via {via}: {channels}", "zh": "• {who}，经由 {via}：{channels}"},
    "why.nobody_paged": {"en": "• nobody could be paged", "zh": "• 无人可呼叫"},
    "why.stopped.acknowledged": {
        "en": "Escalation stopped {ran}: {by} acknowledged the incident.",
        "zh": "升级已于 {ran} 停止：{by} 已认领事件。",
    },
    "why.stopped.resolved": {
        "en": "Escalation stopped {ran}: {by} resolved the incident.",
        "zh": "升级已于 {ran} 停止：{by} 已将事件标记为恢复。",
    },
    "why.stopped.recovered": {
        "en": "Escalation stopped {ran}: every alert of the incident stopped firing.",
        "zh": "升级已于 {ran} 停止：事件的告警已全部恢复。",
    },
    "why.stopped.triggered": {
        "en": "Escalation stopped {ran}: the incident triggered again, so it started over.",
        "zh": "升级已于 {ran} 停止：事件再次告警，升级从头开始。",
    },
    "why.paused": {
        "en": "Escalation paused until {until}: the incident is silenced.",
        "zh": "升级已暂停至 {until}：事件处于静默中。",
    },
    "why.next": {"en": "Next step due {due}.", "zh": "下一步计划于 {due}。"},
    "why.exhausted": {
        "en": "Every step has run; nobody more is paged until it triggers again or someone "
        "presses Escalate.",
        "zh": "所有步骤均已执行；除非再次告警或有人点击升级，不再呼叫。",
    },
    "why.round_robin": {
        "en": "• round robin: {chosen}'s turn; not paged: {users}",
        "zh": "• 轮询：轮到 {chosen}；未呼叫：{users}",
    },
    "why.unknown_schedule": {
        "en": "• schedule {schedule} does not exist",
        "zh": "• 排班 {schedule} 不存在",
    },
    "why.nobody_on_call": {
        "en": "• nobody is on call in {schedule} right now (a gap)",
        "zh": "• 排班 {schedule} 此刻无人值班（空档）",
    },
    "why.not_on_call": {
        "en": "• not paged: {users} — not on call in {schedule} ({user} is)",
        "zh": "• 未呼叫：{users} — 不是 {schedule} 的当前值班人（当前为 {user}）",
    },
    "why.unknown_user": {"en": "• {user} is not a known user", "zh": "• {user} 不是已知用户"},
    "why.no_chat": {
        "en": "• {user}: no chat they can be reached on",
        "zh": "• {user}：没有可送达的聊天平台",
    },
    "why.no_phone": {
        "en": "• {user}: no phone number, so no {channel}",
        "zh": "• {user}：未配置电话号码，无法 {channel}",
    },
    "why.no_email": {
        "en": "• {user}: no e-mail address, so no e-mail",
        "zh": "• {user}：未配置邮箱，无法发邮件",
    },
    "why.no_provider": {
        "en": "• {user}: no {channel} provider is configured",
        "zh": "• {user}：未配置 {channel} 服务商",
    },
    "why.no_channels": {
        "en": "• {user}: no channels for tier {tier}",
        "zh": "• {user}：级别 {tier} 没有配置通知渠道",
    },
    "why.status.queued": {"en": "queued", "zh": "排队中"},
    "why.status.delivered": {"en": "delivered", "zh": "已送达"},
    "why.channel": {"en": "{channel} {status}", "zh": "{channel}{status}"},
    "why.channel_because": {
        "en": "{channel} {status} ({extra})",
        "zh": "{channel}{status}（{extra}）",
    },
    "why.list_sep": {"en": ", ", "zh": "；"},
    "why.reason.acknowledged": {"en": "acknowledged by {by}", "zh": "已由 {by} 认领"},
    "why.reason.resolved": {"en": "resolved by {by}", "zh": "已由 {by} 标记恢复"},
    "why.reason.recovered": {"en": "its alerts recovered", "zh": "告警已恢复"},
    "why.reason.triggered": {"en": "a new episode began", "zh": "事件已重新告警"},
    "why.reason.gone": {"en": "the incident is gone", "zh": "事件已不存在"},
    "why.reason.throttled": {"en": "held back by the rate limit", "zh": "受频率限制，稍后发送"},
    "why.reason.provider_timeout": {"en": "the provider did not answer", "zh": "服务商未响应"},
    "why.via.shift": {
        "en": "schedule:{name} ({source} → {until})",
        "zh": "排班 {name}（{source}，至 {until}）",
    },
    "why.via.schedule": {"en": "schedule:{name}", "zh": "排班 {name}"},
    "why.via.user": {"en": "user:{name}", "zh": "直接指定 {name}"},
    "why.via.group": {"en": "group:{name}", "zh": "组 {name}"},
    "why.via.owner": {"en": "owner:{name}", "zh": "{name} 的负责人"},
    "why.via.chat": {"en": "chat:{name}", "zh": "群 {name}"},
    "why.status.pending": {"en": "waiting", "zh": "等待发送"},
    "why.status.sending": {"en": "sending", "zh": "发送中"},
    "why.status.sent": {"en": "sent", "zh": "已发送"},
    "why.status.failed": {"en": "failed", "zh": "失败"},
    "why.status.cancelled": {"en": "not sent", "zh": "未发送"},
    "channel.chat": {"en": "chat", "zh": "聊天"},
    "channel.sms": {"en": "SMS", "zh": "短信"},
    "channel.voice": {"en": "voice call", "zh": "语音电话"},
    "channel.email": {"en": "e-mail", "zh": "邮件"},
}

TEXTS.update(
    {
        "oncall.unknown_schedule": {
            "en": "There is no schedule {schedule!r}. Schedules: {known}",
            "zh": "没有名为 {schedule!r} 的排班。现有排班：{known}",
        },
        "oncall.none_configured": {
            "en": "No on-call schedules are configured.",
            "zh": "尚未配置值班排班。",
        },
        "oncall.now": {
            "en": "📟 {schedule}: {user} is on call until {until}",
            "zh": "📟 {schedule}：{user} 值班至 {until}",
        },
        "oncall.now_nobody": {
            "en": "📟 {schedule}: nobody is on call right now ⚠️",
            "zh": "📟 {schedule}：此刻无人值班 ⚠️",
        },
        "oncall.next": {
            "en": "   next: {user} from {start}",
            "zh": "   下一位：{user}，自 {start} 起",
        },
        "oncall.usage": {
            "en": "Usage: /oncall [schedule] · /oncall override @user 2h [schedule] · "
            "/oncall swap @user [schedule] · /oncall take @user next|2027-03-10|wed|18:00 "
            "[schedule] · /oncall report [schedule] [30d] · /oncall ical [schedule]",
            "zh": "用法：/oncall [排班] · /oncall override @用户 2h [排班] · "
            "/oncall swap @用户 [排班] · /oncall take @用户 下次|2027-03-10|周三|18:00 [排班] · "
            "/oncall report [排班] [30d] · /oncall ical [排班]",
        },
        "oncall.which_schedule": {
            "en": "Which schedule? Add one of: {known}",
            "zh": "请指定排班：{known}",
        },
        "oncall.unknown_user": {
            "en": "I do not know {who!r} — name a Tocsin user id (e.g. @alice).",
            "zh": "不认识 {who!r} — 请写 Tocsin 用户名（例如 @alice）。",
        },
        "oncall.bad_duration": {
            "en": "An override lasts between 15 minutes and 30 days, e.g. 2h.",
            "zh": "临时替班时长需在 15 分钟到 30 天之间，例如 2h。",
        },
        "oncall.overridden": {
            "en": "{user} is on call for {schedule} from now until {until} (override #{id} "
            "by {by}).",
            "zh": "{user} 将接管 {schedule} 值班，自现在至 {until}"
            "（临时替班 #{id}，由 {by} 设置）。",
        },
        "oncall.swap_self": {
            "en": "You cannot swap with yourself.",
            "zh": "不能与自己换班。",
        },
        "oncall.no_shift": {
            "en": "{user} has no shift in {schedule} in the next 35 days to swap.",
            "zh": "{user} 在未来 35 天内没有 {schedule} 的班次可换。",
        },
        "oncall.swap_requested": {
            "en": "Swap request #{id} sent to {other}; it waits for their answer.",
            "zh": "换班请求 #{id} 已发送给 {other}，等待对方确认。",
        },
        "oncall.ical": {
            "en": "Calendar feed of {schedule} (subscribe in your calendar app): {url}",
            "zh": "{schedule} 的日历订阅地址（可在日历应用中订阅）：{url}",
        },
        "oncall.handoff": {
            "en": "🔄 {schedule}: {user} is on call now, until {until} (after {previous}).",
            "zh": "🔄 {schedule}：现在由 {user} 值班，至 {until}（接替 {previous}）。",
        },
        "oncall.handoff_first": {
            "en": "🔄 {schedule}: {user} is on call now, until {until}.",
            "zh": "🔄 {schedule}：现在由 {user} 值班，至 {until}。",
        },
        "oncall.handoff_nobody_first": {
            "en": "⚠️ {schedule}: nobody is on call now, until {until}.",
            "zh": "⚠️ {schedule}：现在无人值班，至 {until}。",
        },
        "oncall.handoff_nobody": {
            "en": "⚠️ {schedule}: nobody is on call now, until {until} (after {previous}).",
            "zh": "⚠️ {schedule}：现在无人值班，至 {until}（{previous} 之后）。",
        },
        "oncall.gap_warning": {
            "en": "⚠️ {schedule} has {count} gap(s) with nobody on call in the coming week: {spans}",
            "zh": "⚠️ {schedule} 在未来一周有 {count} 段无人值班：{spans}",
        },
        "swap.schedule": {"en": "Schedule", "zh": "排班"},
        "swap.gives": {"en": "Shift of {user}", "zh": "{user} 的班次"},
        "swap.title": {
            "en": "Shift swap: {requester} ⇄ {other}",
            "zh": "换班：{requester} ⇄ {other}",
        },
        "swap.title_cover": {
            "en": "Cover request: {other} takes {requester}'s shift",
            "zh": "代班请求：{other} 接替 {requester} 的班次",
        },
        "swap.body": {
            "en": "{other}, please accept or decline.",
            "zh": "请 {other} 接受或拒绝。",
        },
        "swap.footer": {"en": "Swap #{id}", "zh": "换班 #{id}"},
        "swap.status.pending": {"en": "Waiting for an answer", "zh": "等待确认"},
        "swap.status.accepted": {"en": "Accepted", "zh": "已接受"},
        "swap.status.declined": {"en": "Declined", "zh": "已拒绝"},
        "swap.status.expired": {"en": "Expired", "zh": "已过期"},
        "button.accept": {"en": "Accept", "zh": "接受"},
        "button.decline": {"en": "Decline", "zh": "拒绝"},
        "swap.accepted": {
            "en": "{user} accepted swap #{id}: the shifts of {requester} and {other} are swapped.",
            "zh": "{user} 接受了换班 #{id}：{requester} 与 {other} 的班次已互换。",
        },
        "swap.declined": {
            "en": "{user} declined swap #{id}.",
            "zh": "{user} 拒绝了换班 #{id}。",
        },
        "swap.not_yours": {
            "en": "Only {other} can accept this swap.",
            "zh": "只有 {other} 可以接受此换班。",
        },
        "swap.already.accepted": {
            "en": "Swap #{id} was already accepted.",
            "zh": "换班 #{id} 已被接受。",
        },
        "swap.already.declined": {
            "en": "Swap #{id} was already declined.",
            "zh": "换班 #{id} 已被拒绝。",
        },
        "swap.already.expired": {
            "en": "Swap #{id} expired.",
            "zh": "换班 #{id} 已过期。",
        },
        "swap.title_take": {
            "en": "Take request: {requester} takes {other}'s shift",
            "zh": "接班请求：{requester} 接替 {other} 的班次",
        },
        "take.footer": {"en": "Take request #{id}", "zh": "接班请求 #{id}"},
        "swap.accepted_cover": {
            "en": "{user} accepted request #{id}: {other} covers {requester}'s shift.",
            "zh": "{user} 接受了请求 #{id}：{other} 代替 {requester} 值班。",
        },
        "swap.accepted_take": {
            "en": "{user} accepted request #{id}: {requester} takes {other}'s shift.",
            "zh": "{user} 接受了请求 #{id}：{requester} 接替 {other} 的班次。",
        },
        "oncall.take_requested": {
            "en": "Request #{id} sent to {other}: you would take their shift {start} → {end}; "
            "it waits for their answer.",
            "zh": "请求 #{id} 已发送给 {other}：由你接替其班次 {start} → {end}，等待对方确认。",
        },
        "oncall.take_self": {
            "en": "That shift is already yours.",
            "zh": "这是你自己的班次。",
        },
        "oncall.take_no_shift": {
            "en": "{user} has no shift in {schedule} then (looking 35 days ahead).",
            "zh": "{user} 在那时（未来 35 天内）没有 {schedule} 的班次。",
        },
        "oncall.take_over": {
            "en": "That shift of {user} in {schedule} is already over.",
            "zh": "{user} 在 {schedule} 的那个班次已经结束。",
        },
        "oncall.bad_when": {
            "en": "When? Say next, a date (2027-03-10), a weekday (wed) or a time (18:00).",
            "zh": "请说明时间：下次、日期（2027-03-10）、星期（周三）或时刻（18:00）。",
        },
        "oncall.bad_period": {
            "en": "The report covers between 1 hour and 366 days back, e.g. 30d.",
            "zh": "报告统计范围为 1 小时到 366 天，例如 30d。",
        },
        # the fairness report
        "fairness.title": {"en": "On-call fairness", "zh": "值班公平性报告"},
        "fairness.period": {
            "en": "{since} → {until} · schedules: {schedules}",
            "zh": "{since} → {until} · 排班：{schedules}",
        },
        "fairness.col.name": {"en": "Person", "zh": "人员"},
        "fairness.col.time_zone": {"en": "Time zone", "zh": "时区"},
        "fairness.col.on_call_hours": {"en": "Hours on call", "zh": "值班小时"},
        "fairness.col.off_hours_hours": {"en": "Off-hours hours", "zh": "非工作时间小时"},
        "fairness.col.pages": {"en": "Pages", "zh": "呼叫次数"},
        "fairness.col.pages_off_hours": {"en": "Off-hours pages", "zh": "非工作时间呼叫"},
        "fairness.col.incidents": {"en": "Incidents", "zh": "事件数"},
        "fairness.col.swaps": {"en": "Swaps", "zh": "换班"},
        "fairness.col.covers": {"en": "Covers", "zh": "代班"},
        "fairness.col.takes": {"en": "Takes", "zh": "接班"},
        "fairness.col.given_away": {"en": "Given away", "zh": "让出"},
        "fairness.col.overrides": {"en": "Overrides", "zh": "临时替班"},
        "fairness.line": {
            "en": "• {name}: {on_call_hours:.1f} h on call ({off_hours_hours:.1f} h off-hours) · "
            "{pages} pages / {incidents} incidents ({pages_off_hours} off-hours) · "
            "swaps {swaps} · covers {covers} · takes {takes} · given away {given_away} · "
            "overrides {overrides}",
            "zh": "• {name}：值班 {on_call_hours:.1f} 小时"
            "（非工作时间 {off_hours_hours:.1f} 小时）· "
            "呼叫 {pages} 次 / {incidents} 个事件（非工作时间 {pages_off_hours} 次）· "
            "换班 {swaps} · 代班 {covers} · 接班 {takes} · 让出 {given_away} · "
            "临时替班 {overrides}",
        },
        "fairness.nobody": {
            "en": "Nobody was on call or paged in this period.",
            "zh": "此期间无人值班，也无人被呼叫。",
        },
        "fairness.footnote": {
            "en": "Off-hours: outside Mon–Fri 09:00–18:00 in each person's own time zone.",
            "zh": "非工作时间：按各人自己的时区，周一至周五 09:00–18:00 以外的时间。",
        },
    }
)
