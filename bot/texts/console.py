"""The web console's own labels (buttons, placeholders, headings), sent to the page with its
configuration; the page shows them in the signed-in person's language."""

TEXTS: dict[str, dict[str, str]] = {
    "console.chat": {"en": "Chat", "zh": "群聊"},
    "console.you_are": {"en": "You are", "zh": "当前身份"},
    "console.fire_demo": {"en": "Fire demo alert", "zh": "触发演示告警"},
    "console.sign_out": {"en": "Sign out", "zh": "退出"},
    "console.demo_title": {"en": "Demo mode.", "zh": "演示模式。"},
    "console.demo_text": {
        "en": "Anyone who can open this page can act as any user. "
        "Do not use demo mode in production.",
        "zh": "任何能打开此页面的人都可以扮演任何用户。请勿在生产环境使用演示模式。",
    },
    "console.loading": {"en": "Loading…", "zh": "加载中…"},
    "console.send": {"en": "Send", "zh": "发送"},
    "console.sign_in_title": {"en": "Sign in to the Tocsin console", "zh": "登录 Tocsin 控制台"},
    "console.sign_in_text": {
        "en": "Paste your console sign-in token (console.tokens in Tocsin's configuration).",
        "zh": "请粘贴你的控制台登录令牌（Tocsin 配置中的 console.tokens）。",
    },
    "console.sign_in": {"en": "Sign in", "zh": "登录"},
    "console.placeholder": {"en": "Command, e.g. /help", "zh": "输入命令，如 /help"},
    "console.direct": {"en": "Direct messages (only you)", "zh": "私聊（仅自己可见）"},
    "console.empty": {
        "en": "No messages yet. Type /help to start.",
        "zh": "暂无消息。输入 /help 开始。",
    },
    "console.online": {"en": "online", "zh": "在线"},
    "console.connecting": {"en": "connecting…", "zh": "连接中…"},
    "console.offline": {"en": "offline — reconnecting", "zh": "已断开，正在重连"},
    "console.private": {"en": "only visible to you", "zh": "仅你可见"},
    "console.signed_in_as": {"en": "Signed in as", "zh": "已登录："},
    "console.not_connected": {
        "en": "Not connected yet; try again in a moment.",
        "zh": "尚未连接，请稍后再试。",
    },
    "console.token_refused": {"en": "That token was not accepted.", "zh": "令牌无效。"},
    "console.demo_fired": {"en": "Demo alert sent", "zh": "演示告警已发送"},
    "console.failed": {"en": "Request failed", "zh": "请求失败"},
    "console.edited": {"en": "updated", "zh": "已更新"},
    "console.links": {"en": "Links", "zh": "链接"},
}
