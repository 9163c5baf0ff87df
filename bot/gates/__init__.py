"""Health gates: the checks that judge a release after a deploy or a rollback.

`analysis` is the pure part (judging values, verdicts, due times); its settings are in
`bot.settings.gates`.
"""

from bot.gates.analysis import (
    Measurement,
    Outcome,
    Verdict,
    gate_next_due,
    gate_verdict,
    judge,
    measure,
    measurements_needed,
    metric_verdict,
    next_due,
    summary,
)

__all__ = [
    "Measurement",
    "Outcome",
    "Verdict",
    "gate_next_due",
    "gate_verdict",
    "judge",
    "measure",
    "measurements_needed",
    "metric_verdict",
    "next_due",
    "summary",
]
