"""The severity of a Kibana alert, from what its rule tells, first present wins:

1. a rule tag ``severity:<level>`` (or ``severity=<level>``), for any rule type;
2. a security detection rule's default severity (``context.rule.severity``);
3. the action group the alert fired in: Metrics' "Warning" and "No Data" groups are warnings,
   the SLO burn-rate groups their own level, every other firing group ``high``.

A level is one of Elastic's words (`LEVELS`); an unknown word in a tag passes to the next
source. The word used, from 1 or 2, is kept as ``elastic_severity``. An action group is not
kept as a label: a recovery is sent in the "recovered" group and cannot tell which group the
alert had fired in, so such an alert resolves with the default ``high``.
"""

from __future__ import annotations

from adapters.sources.tags import CRITICAL, HIGH, INFO, WARNING

LEVELS: dict[str, str] = {
    "critical": CRITICAL,
    "high": HIGH,
    "medium": WARNING,
    "warning": WARNING,
    "low": INFO,
    "info": INFO,
}
"""Elastic's severity words (security rules: low, medium, high, critical) to Tocsin's."""
GROUPS: dict[str, str] = {
    "slo.burnRate.alert": CRITICAL,
    "slo.burnRate.high": HIGH,
    "slo.burnRate.medium": WARNING,
    "slo.burnRate.low": INFO,
}
"""Action groups whose name is a level (the SLO burn-rate rule's Critical … Low)."""
_WARNING_GROUPS = (".warning", ".nodata")
"""Action-group suffixes of the Metrics rules' "Warning" and "No Data" groups."""
DEFAULT = HIGH
"""A firing group that says no level, and a recovery whose rule says none."""


def severity_of(tag: str, security: str, group: str) -> dict[str, str]:
    """The ``severity`` label, and ``elastic_severity`` when a tag or a security rule gave it.
    `group` is the firing action group, empty for a recovery."""
    for word in (tag, security):
        level = LEVELS.get(word.strip().lower())
        if level is not None:
            return {"severity": level, "elastic_severity": word.strip()}
    if group in GROUPS:
        return {"severity": GROUPS[group]}
    if group.endswith(_WARNING_GROUPS):
        return {"severity": WARNING}
    return {"severity": DEFAULT}
