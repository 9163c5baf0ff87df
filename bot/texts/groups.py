"""Texts of chat groups that follow a rotation."""

TEXTS: dict[str, dict[str, str]] = {
    "groups.failed": {
        "en": "⚠️ {schedule}: the on-call group {group} could not be updated ({error}). "
        "Tocsin keeps retrying; /readyz shows it until it works.",
        "zh": "⚠️ {schedule}：值班群组 {group} 未能更新（{error}）。"
        "Tocsin 会持续重试；在成功之前 /readyz 会显示此问题。",
    },
    "groups.missing": {
        "en": "⚠️ {schedule}: the on-call group {group} is incomplete: {people} has no "
        "{platform} identity. Add it under users[].identities.",
        "zh": "⚠️ {schedule}：值班群组 {group} 不完整：{people} 没有 {platform} 账号。"
        "请在配置的用户身份中补上。",
    },
    "groups.recovered": {
        "en": "✅ {schedule}: the on-call group {group} follows the rotation again.",
        "zh": "✅ {schedule}：值班群组 {group} 已恢复与排班同步。",
    },
}
