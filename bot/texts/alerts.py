"""Texts: what a card says about its alerts (links, times) and the reader's time zone."""

TEXTS: dict[str, dict[str, str]] = {
    # relative times (bot.incidents.times)
    "time.now": {"en": "just now", "zh": "刚刚"},
    "time.ago.min": {"en": "{n} min ago", "zh": "{n} 分钟前"},
    "time.ago.hours": {"en": "{n} h ago", "zh": "{n} 小时前"},
    "time.ago.days": {"en": "{n} days ago", "zh": "{n} 天前"},
    "time.in.min": {"en": "in {n} min", "zh": "{n} 分钟后"},
    "time.in.hours": {"en": "in {n} h", "zh": "{n} 小时后"},
    "time.in.days": {"en": "in {n} days", "zh": "{n} 天后"},
    # links on incident cards (bot.alerts.links)
    "card.link.runbook": {"en": "Runbook", "zh": "处置手册"},
    "card.link.dashboard": {"en": "Dashboard", "zh": "监控面板"},
    "card.link.panel": {"en": "Panel", "zh": "图表"},
    "card.link.source": {"en": "Alert source", "zh": "告警来源"},
    "card.link.silence": {"en": "Silence in Alertmanager", "zh": "在 Alertmanager 中静默"},
    # the reader's time zone (/tz)
    "cmd.tz_set": {"en": "Times are now shown to you in {tz}.", "zh": "今后为您显示 {tz} 时间。"},
    "cmd.chat_tz_set": {
        "en": "Times in this chat are now shown in {tz} (people who chose their own keep it).",
        "zh": "本群今后显示 {tz} 时间（已自行设置时区的成员不受影响）。",
    },
    "cmd.tz_unknown": {
        "en": "{tz!r} is not a time zone; use an IANA name such as Asia/Shanghai or UTC.",
        "zh": "{tz!r} 不是有效时区，请使用 Asia/Shanghai、UTC 等 IANA 时区名称。",
    },
}
