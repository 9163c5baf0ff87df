"""Texts: help (`/help`, `/help <command>`)."""

TEXTS: dict[str, dict[str, str]] = {
    "help.topic.incidents": {"en": "Incidents", "zh": "事件"},
    "help.topic.deploys": {"en": "Deploys and rollbacks", "zh": "发布与回滚"},
    "help.topic.oncall": {"en": "On call", "zh": "值班"},
    "help.topic.you": {"en": "You and this chat", "zh": "个人与本群设置"},
    "help.topic.other": {"en": "Other", "zh": "其他"},
    "help.line": {
        "en": "{usage} — {summary} e.g. {example}",
        "zh": "{usage} — {summary}例如：{example}",
    },
    "help.line_plain": {"en": "{usage} — {summary}", "zh": "{usage} — {summary}"},
    "help.footer": {
        "en": "/help <command> explains one command, e.g. /help deploy",
        "zh": "输入 /help <命令> 查看某个命令的详细说明，例如 /help deploy",
    },
    "help.no_such": {
        "en": "There is no command /{command} you may run. These are the ones you may:",
        "zh": "没有您可以使用的命令 /{command}。您可以使用以下命令：",
    },
    "help.arguments": {"en": "Arguments:", "zh": "参数："},
    "help.aliases": {"en": "Also typed as: {aliases}", "zh": "也可以输入：{aliases}"},
    "help.examples": {"en": "Examples:", "zh": "示例："},
    "help.one_of": {"en": "one of {choices}", "zh": "可选 {choices}"},
    "help.with_default": {
        "en": "{text} (default {default})",
        "zh": "{text}（默认 {default}）",
    },
    "help.literal": {"en": "typed as shown", "zh": "照原样输入"},
    "help.optional": {"en": "optional", "zh": "可省略"},
    "help.name.incident": {"en": "incident", "zh": "事件编号"},
    "help.name.service": {"en": "service", "zh": "服务"},
    "help.name.version": {"en": "version", "zh": "版本"},
    "help.name.environment": {"en": "environment", "zh": "环境"},
    "help.name.run": {"en": "run", "zh": "任务编号"},
    "help.name.duration": {"en": "duration", "zh": "时长"},
    "help.name.command": {"en": "command", "zh": "命令"},
    "help.name.reason": {"en": "reason", "zh": "原因"},
    "help.name.text": {"en": "text", "zh": "内容"},
    "help.name.schedule": {"en": "schedule", "zh": "排班"},
    "help.name.language": {"en": "language", "zh": "语言"},
    "help.name.zone": {"en": "zone", "zh": "时区"},
    "help.arg.incident": {"en": "an incident number, e.g. 42", "zh": "事件编号，例如 42"},
    "help.arg.environment": {
        "en": "an environment, e.g. prod",
        "zh": "环境，例如 prod",
    },
    "help.flag.dry-run": {
        "en": "show what would happen, change nothing",
        "zh": "只预演将要执行的操作，不做任何改动",
    },
    "help.flag.chat": {
        "en": "set it for this chat rather than for you",
        "zh": "为本群设置，而不是为您个人设置",
    },
}
