"""Texts of the command grammar (parse errors, suggestions)."""

TEXTS: dict[str, dict[str, str]] = {
    "grammar.list_separator": {"en": ", ", "zh": "、"},
    "grammar.usage": {"en": "Usage: {usage}", "zh": "用法：{usage}"},
    "grammar.empty": {
        "en": "No command given. Type /help to see the commands.",
        "zh": "没有输入命令。输入 /help 查看可用命令。",
    },
    "grammar.unterminated_quote": {
        "en": "The quote {quote} is never closed: add the closing {close}.",
        "zh": "引号 {quote} 没有闭合，请补上 {close}。",
    },
    "grammar.unknown_command": {
        "en": "Unknown command '{command}'. Did you mean: {suggestions}? "
        "Type /help for the full list.",
        "zh": "未知命令 '{command}'。您是不是想输入：{suggestions}？输入 /help 查看全部命令。",
    },
    "grammar.unknown_command_plain": {
        "en": "Unknown command '{command}'. Type /help for the full list.",
        "zh": "未知命令 '{command}'。输入 /help 查看全部命令。",
    },
    "grammar.unknown_value": {
        "en": "Unknown {what} '{value}'. Did you mean: {suggestions}?",
        "zh": "未知{what} '{value}'。您是不是想输入：{suggestions}？",
    },
    "grammar.unknown_value_list": {
        "en": "Unknown {what} '{value}'. Known: {known}.",
        "zh": "未知{what} '{value}'。可选：{known}。",
    },
    "grammar.unknown_value_plain": {
        "en": "Unknown {what} '{value}'.",
        "zh": "未知{what} '{value}'。",
    },
    "grammar.bad_choice": {
        "en": "'{value}' is not a valid value for {arg}. Choose one of: {choices}.",
        "zh": "'{value}' 不是 {arg} 的有效取值，可选：{choices}。",
    },
    "grammar.bad_int": {
        "en": "{arg} must be a whole number, not '{value}'.",
        "zh": "{arg} 需要一个整数，而不是 '{value}'。",
    },
    "grammar.bad_duration": {
        "en": "{arg} must be a duration such as 90s, 30m, 2h or 1d, not '{value}'.",
        "zh": "{arg} 需要一个时长，例如 90s、30m、2h 或 1d，而不是 '{value}'。",
    },
    "grammar.empty_value": {"en": "{arg} needs a value.", "zh": "{arg} 不能为空。"},
    "grammar.missing_arg": {"en": "Missing argument {args}.", "zh": "缺少参数 {args}。"},
    "grammar.missing_args": {"en": "Missing arguments {args}.", "zh": "缺少参数 {args}。"},
    "grammar.extra_arg": {
        "en": "Unexpected extra argument '{value}'.",
        "zh": "多余的参数 '{value}'。",
    },
    "grammar.duplicate_arg": {
        "en": "{arg} is given more than once.",
        "zh": "参数 {arg} 被重复指定。",
    },
    "grammar.unknown_key": {
        "en": "Unknown option '{key}='. Did you mean: {suggestions}?",
        "zh": "未知选项 '{key}='。您是不是想输入：{suggestions}？",
    },
    "grammar.unknown_key_plain": {
        "en": "Unknown option '{key}='.",
        "zh": "未知选项 '{key}='。",
    },
    "grammar.unknown_flag": {
        "en": "Unknown flag '--{flag}'. Did you mean: {suggestions}?",
        "zh": "未知选项 '--{flag}'。您是不是想输入：{suggestions}？",
    },
    "grammar.unknown_flag_plain": {
        "en": "Unknown flag '--{flag}'.",
        "zh": "未知选项 '--{flag}'。",
    },
    "grammar.vocab.value": {"en": "value", "zh": "取值"},
    "grammar.vocab.service": {"en": "service", "zh": "服务"},
    "grammar.vocab.environment": {"en": "environment", "zh": "环境"},
    "grammar.vocab.incident": {"en": "incident", "zh": "事件"},
    "grammar.too_long": {
        "en": "That command is too long (at most {max} characters).",
        "zh": "命令太长（最多 {max} 个字符）。",
    },
    "grammar.too_long_value": {
        "en": "{arg} is too long (at most {max} characters): '{value}'.",
        "zh": "{arg} 太长（最多 {max} 个字符）：'{value}'。",
    },
    "grammar.control_char": {
        "en": "{arg} contains a line break or another control character: '{value}'. "
        "Type it on one line.",
        "zh": "{arg} 含有换行符或其他控制字符：'{value}'。请在一行内输入。",
    },
    "grammar.int_range": {
        "en": "{arg} must be a whole number from {min} to {max}, not '{value}'.",
        "zh": "{arg} 需要一个 {min} 到 {max} 之间的整数，而不是 '{value}'。",
    },
    "grammar.duration_range": {
        "en": "{arg} must be longer than zero and at most {max} days, not '{value}'.",
        "zh": "{arg} 需要大于零且不超过 {max} 天，而不是 '{value}'。",
    },
    "grammar.bad_word": {
        "en": "'{value}' is not a valid {arg}.",
        "zh": "'{value}' 不是有效的 {arg}。",
    },
    "grammar.bad_version": {
        "en": "'{value}' is not a valid version for {arg}: use letters, digits and . _ + - "
        "(at most 128, starting with a letter or digit), e.g. v1.4.2.",
        "zh": "'{value}' 不是有效的版本号 {arg}：只能使用字母、数字和 . _ + -"
        "（最多 128 个字符，以字母或数字开头），例如 v1.4.2。",
    },
}
