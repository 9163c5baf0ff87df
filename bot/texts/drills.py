"""Texts of rollback drills: the /drill command, their outcomes and the incident a failed one
opens."""

TEXTS: dict[str, dict[str, str]] = {
    "drill.usage": {
        "en": "Use /drill rollback <service> [env].",
        "zh": "用法：/drill rollback <服务> [环境]。",
    },
    "drill.not_configured": {
        "en": "{service} has no rollback drill (deploy.drills.{service}).",
        "zh": "{service} 未配置回滚演练（deploy.drills.{service}）。",
    },
    "drill.wrong_environment": {
        "en": "{service}'s drill runs in {environment} only.",
        "zh": "{service} 的演练只在 {environment} 进行。",
    },
    "drill.started": {
        "en": "🧪 Rollback drill #{id}: deploying the bad release {version} of {service} in "
        "{environment}; the health gate should catch it and Tocsin roll it back.",
        "zh": "🧪 回滚演练 #{id}：在 {environment} 发布 {service} 的问题版本 {version}；"
        "健康检查应发现它并自动回滚。",
    },
    "drill.passed": {
        "en": "✅ Rollback drill #{id} of {service} in {environment} passed: caught in {detect}, "
        "restored in {restore} ({note}).",
        "zh": "✅ {service}（{environment}）回滚演练 #{id} 通过：{detect} 内发现，{restore} 内恢复"
        "（{note}）。",
    },
    "drill.failed": {
        "en": "❌ Rollback drill #{id} of {service} in {environment} failed: {note}.",
        "zh": "❌ {service}（{environment}）回滚演练 #{id} 失败：{note}。",
    },
    "drill.alert.failed": {
        "en": "Rollback drill #{id} of {service} in {environment} failed: {note}. Rolling "
        "{service} back may not work until a drill passes; the next one that passes resolves "
        "this incident.",
        "zh": "{service}（{environment}）回滚演练 #{id} 失败：{note}。在演练通过之前，回滚 "
        "{service} 可能无效；下一次演练通过后本事件自动解决。",
    },
    "drill.alert.passed": {
        "en": "Rollback drill #{id} of {service} in {environment} passed.",
        "zh": "{service}（{environment}）回滚演练 #{id} 通过。",
    },
    "drill.scheduled.days": {
        "en": "🧪 The first rollback drill of {service} in {environment} is set for {at} UTC, "
        "then every {every} days. Nothing is deployed until then.",
        "zh": "🧪 {service}（{environment}）的首次回滚演练定于 {at}（世界标准时间），之后每 "
        "{every} 天一次。在此之前不会发布任何版本。",
    },
    "drill.scheduled.hours": {
        "en": "🧪 The first rollback drill of {service} in {environment} is set for {at} UTC, "
        "then every {every} hours. Nothing is deployed until then.",
        "zh": "🧪 {service}（{environment}）的首次回滚演练定于 {at}（世界标准时间），之后每 "
        "{every} 小时一次。在此之前不会发布任何版本。",
    },
}
