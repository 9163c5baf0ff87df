"""The text catalogue, merged from one module per area. Each maps key -> {"en": …, "zh": …}."""

from __future__ import annotations

from bot.texts import canary, core, deploy, drills, grammar, oncall

CATALOGUE: dict[str, dict[str, str]] = {
    **core.TEXTS,
    **grammar.TEXTS,
    **oncall.TEXTS,
    **deploy.TEXTS,
    **drills.TEXTS,
    **canary.TEXTS,
}
