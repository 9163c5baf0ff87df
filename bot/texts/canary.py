"""Texts of canary releases: the canary step, its gate, promotion and taking the canary away."""

TEXTS: dict[str, dict[str, str]] = {
    "deploy.card.stage": {"en": "Stage", "zh": "阶段"},
    "deploy.stage.canary": {
        "en": "Canary: {weight}% of traffic; the rest stays on {previous}",
        "zh": "金丝雀：{weight}% 流量，其余仍为 {previous}",
    },
    "deploy.stage.canary_rollback": {
        "en": "Taking the canary of run #{parent} away; {version} stays",
        "zh": "撤下任务 #{parent} 的金丝雀；保留 {version}",
    },
    "deploy.stage.promotion": {
        "en": "Promotion of canary run #{parent} to all traffic",
        "zh": "金丝雀任务 #{parent} 全量发布",
    },
    "deploy.bad_canary_weight": {
        "en": "{name}={value}: a canary weight is a whole percentage from 1 to 99, "
        "or 0 to deploy to everything at once without a canary.",
        "zh": "{name}={value}：金丝雀权重须为 1–99 的整数百分比，0 表示不经金丝雀直接全量发布。",
    },
    "gate.state.canary_passed": {
        "en": "Canary passed ✓ — press Promote to roll it out to all traffic",
        "zh": "金丝雀通过 ✓ — 点击“全量发布”推广到全部流量",
    },
    "gate.state.promoted": {
        "en": "Canary passed ✓ — promoted (run #{run})",
        "zh": "金丝雀通过 ✓ — 已全量发布（任务 #{run}）",
    },
    "gate.state.canary_rolled_back": {
        "en": "Canary failed ✗ — taken away (run #{run}); the stable release is untouched",
        "zh": "金丝雀未通过 ✗ — 已撤下（任务 #{run}），稳定版本未受影响",
    },
    "button.promote": {"en": "Promote", "zh": "全量发布"},
    "button.promote.confirm": {
        "en": "Roll {version} out to all of {service} in {environment}?",
        "zh": "确定将 {version} 全量发布到 {service}（{environment}）？",
    },
    "gate.promoted": {
        "en": "{user} promoted the canary of run #{id}: run #{promotion} rolls {version} out "
        "to all traffic.",
        "zh": "{user} 将任务 #{id} 的金丝雀全量发布：任务 #{promotion} 正在将 {version} "
        "推广到全部流量。",
    },
    "gate.nothing_to_promote": {
        "en": "Run #{id} has no canary waiting for promotion{why}.",
        "zh": "任务 #{id} 没有等待全量发布的金丝雀{why}。",
    },
}
