"""The text catalogue, merged from one module per area. Each maps key -> {"en": …, "zh": …}."""

from __future__ import annotations

from bot.texts import alerts, canary, core, deploy, drills, grammar, help, oncall, review, status

CATALOGUE: dict[str, dict[str, str]] = {
    **core.TEXTS,
    **grammar.TEXTS,
    **oncall.TEXTS,
    **deploy.TEXTS,
    **drills.TEXTS,
    **canary.TEXTS,
    **status.TEXTS,
    **alerts.TEXTS,
    **review.TEXTS,
    **help.TEXTS,
}
