"""Texts of phone pages' delivery: the reply prompts, `/incident why` lines about providers,
and the incident card's paging field."""

TEXTS: dict[str, dict[str, str]] = {
    # what a page tells the person to answer
    "page.sms_prompt": {
        "en": "Reply 1 to acknowledge #{id}, 2 to escalate (1{code} / 2{code} for this page).",
        "zh": "回复 1 认领 #{id}，回复 2 升级（仅针对本条：1{code} / 2{code}）。",
    },
    "page.voice_prompt": {
        "en": "Press 1 to acknowledge, 2 to escalate.",
        "zh": "认领请按 1，升级请按 2。",
    },
    # /incident why
    "why.delivery.delivered": {"en": "delivered {at}", "zh": "已送达 {at}"},
    "why.delivery.answered": {"en": "answered {at}", "zh": "已接听 {at}"},
    "why.delivery.undelivered": {"en": "undelivered", "zh": "未送达"},
    "why.delivery.failed": {"en": "failed", "zh": "失败"},
    "why.delivery.no_answer": {"en": "unanswered", "zh": "未接听"},
    "why.delivery.busy": {"en": "busy", "zh": "占线"},
    "why.delivery.sent": {"en": "sent, no report yet", "zh": "已发送，尚无回执"},
    "why.delivery.line": {"en": "{what} ({provider})", "zh": "{what}（{provider}）"},
    "why.delivery.line_detail": {
        "en": "{what} ({provider} {detail})",
        "zh": "{what}（{provider} {detail}）",
    },
    "why.failover.failed": {
        "en": "{provider} failed ({detail}) → sent by {next}",
        "zh": "{provider} 发送失败（{detail}）→ 改由 {next} 发送",
    },
    "why.failover.superseded": {
        "en": "not confirmed by {provider} within {within} → sent by {next}",
        "zh": "{provider} 在 {within} 内未确认送达 → 改由 {next} 发送",
    },
    "why.failover.reported": {
        "en": "{provider} reported {status} → sent by {next}",
        "zh": "{provider} 回执{status} → 改由 {next} 发送",
    },
    "why.undelivered": {
        "en": "{channel} to {who} {status}: next step at once.",
        "zh": "{channel}至 {who} {status}：立即执行下一步。",
    },
    # the incident card
    "card.pages": {"en": "Pages", "zh": "呼叫"},
    "card.page.person": {"en": "{channel} to {who} {state}", "zh": "{channel}至 {who}：{state}"},
    "card.page.more": {"en": "{channel} {state}", "zh": "{channel}{state}"},
    "card.page.sep": {"en": ", ", "zh": "；"},
    "card.page.sms": {"en": "SMS", "zh": "短信"},
    "card.page.voice": {"en": "call", "zh": "电话"},
    "card.page.email": {"en": "e-mail", "zh": "邮件"},
    "card.page.state.pending": {"en": "being sent", "zh": "发送中"},
    "card.page.state.sent": {"en": "sent {at}", "zh": "已发送 {at}"},
    "card.page.state.delivered": {"en": "delivered {at}", "zh": "已送达 {at}"},
    "card.page.state.answered": {"en": "answered {at}", "zh": "已接听 {at}"},
    "card.page.state.undelivered": {"en": "undelivered", "zh": "未送达"},
    "card.page.state.failed": {"en": "failed", "zh": "发送失败"},
    "card.page.state.no_answer": {"en": "unanswered", "zh": "未接听"},
    "card.page.state.busy": {"en": "busy", "zh": "占线"},
    "card.page.state.cancelled": {"en": "not sent", "zh": "未发送"},
    "card.acked_via": {
        "en": "Acknowledged via {via} {after} after the first page",
        "zh": "首次呼叫后 {after} 通过{via}认领",
    },
    "card.via.sms_reply": {"en": "SMS reply", "zh": "短信回复"},
    "card.via.voice_key": {"en": "a key pressed in the call", "zh": "电话按键"},
    "card.via.link:sms": {"en": "the link in the SMS", "zh": "短信中的链接"},
    "card.via.link:voice": {"en": "the link in the message", "zh": "消息中的链接"},
    "card.via.link:email": {"en": "the link in the e-mail", "zh": "邮件中的链接"},
    "card.via.slack": {"en": "Slack", "zh": "Slack"},
    "card.via.dingtalk": {"en": "DingTalk", "zh": "钉钉"},
    "card.via.wecom": {"en": "WeCom", "zh": "企业微信"},
    "card.via.feishu": {"en": "Feishu", "zh": "飞书"},
    "card.via.console": {"en": "the console", "zh": "控制台"},
}
