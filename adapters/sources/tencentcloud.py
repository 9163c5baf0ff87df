"""Tencent Cloud Observability Platform (腾讯云可观测平台) alarm callbacks to `AlertEvent`s.

A notification template's API callback (接口回调) POSTs one alarm per request: `alarmStatus`
(1 alarm, 0 recovered), `alarmType` (``metric`` or ``event``), `alarmObjInfo` (region,
namespace and the object's `dimensions`), `alarmPolicyInfo` (the policy and its `conditions`:
metric, threshold and current value, or the event), and Beijing-time `firstOccurTime` and
`recoverTime`. Newer payloads add `alertId` (``<sessionId>_<level>`` for a graded policy),
`alarmLevel` and `policyTags`.

The policy's name is the alert's name; its level (Serious / Warn / Remind, or 严重 / 警告 /
提醒) gives the severity, an ungraded policy `UNGRADED`; policy tags and the object's
dimensions become labels, with a few `tencentcloud_*` fields worth routing on. The alert is
the policy, the metric or event, the object and the level: `sessionId` differs between an
alarm and its recovery, so it cannot identify one. Times are converted from Beijing time.
A body with neither `alarmStatus` nor `alarmPolicyInfo` is not an alarm (a probe of the URL)
and is ignored. The callback carries no credential: the source's URL holds a `query_token`.
"""

from __future__ import annotations

from typing import Any

from adapters.sources import tags
from adapters.sources import tencentcloud_fields as f
from adapters.sources._common import object_field, require_object, scalar_string, text_field
from bot.alerts.batch import Parsed
from bot.alerts.event import AlertEvent, AlertStatus
from bot.errors import InputError

CONSOLE = "https://console.cloud.tencent.com/monitor/alarm/policy/detail/"
"""The console page of an alarm policy, followed by its id."""
POLICIES = "https://console.cloud.tencent.com/monitor/alarm2/policy"
"""The console's list of alarm policies, for an alarm that names no policy id."""
POLICY = "alarmPolicyInfo"
CONDITIONS = "alarmPolicyInfo.conditions"


def parse(payload: Any, source: str) -> Parsed:
    """The alarm of one decoded callback body. A bad body raises `InputError` naming the
    field; a body that is not an alarm gives nothing."""
    body = require_object(payload, "payload")
    if body.get("alarmStatus") is None and body.get(POLICY) is None:
        return Parsed()
    return Parsed([_event(body, source)])


def _event(body: dict[str, Any], source: str) -> AlertEvent:
    status = f.status(body.get("alarmStatus"))
    if body.get(POLICY) is None:
        raise InputError(f"{POLICY}: required")
    policy = require_object(body[POLICY], POLICY)
    conditions = object_field(policy, "conditions", POLICY)
    obj = object_field(body, "alarmObjInfo", "")
    dims = f.dimensions(obj.get("dimensions"), "alarmObjInfo.dimensions")
    name = text_field(policy, "policyName", POLICY)
    if not name:
        raise InputError(f"{POLICY}.policyName: required (the alarm policy's name)")
    word = _level_word(body, policy)
    canonical, severity = f.level(word)
    policy_id = text_field(policy, "policyId", POLICY)
    metric = text_field(conditions, "metricName", CONDITIONS)
    event = text_field(conditions, "eventName", CONDITIONS)
    region = text_field(obj, "region", "alarmObjInfo")
    fixed = {
        "alertname": name,
        "severity": severity,
        "tencentcloud_severity": word,
        "tencentcloud_policy_id": policy_id,
        "tencentcloud_policy_type": text_field(policy, "policyType", POLICY),
        "tencentcloud_alarm_type": text_field(body, "alarmType", ""),
        "tencentcloud_namespace": text_field(obj, "namespace", "alarmObjInfo"),
        "tencentcloud_region": region,
        "tencentcloud_metric": metric,
        "tencentcloud_event": event,
    }
    tagged = f.policy_tags(*_either(body, policy, "policyTags"))
    labels = {**tags.as_labels(dims), **tagged, **{k: v for k, v in fixed.items() if v}}
    identity = [policy_id or name, metric or event, region, f.object_key(dims), canonical]
    return AlertEvent(
        source=source,
        fingerprint="tencentcloud:" + "/".join(identity).rstrip("/"),
        status=status,
        labels=labels,
        annotations=_annotations(body, policy, conditions, dims, region),
        starts_at=f.beijing_time(body.get("firstOccurTime"), "firstOccurTime"),
        ends_at=(
            f.beijing_time(body.get("recoverTime"), "recoverTime")
            if status is AlertStatus.RESOLVED
            else None
        ),
        generator_url=CONSOLE + policy_id if policy_id else POLICIES,
    )


def _either(body: dict[str, Any], policy: dict[str, Any], key: str) -> tuple[Any, str]:
    """`key` at the top level of the body, else inside `alarmPolicyInfo`, with its path."""
    if body.get(key) is not None:
        return body[key], key
    return policy.get(key), f"{POLICY}.{key}"


def _level_word(body: dict[str, Any], policy: dict[str, Any]) -> str:
    """The vendor's level: `alarmLevel`, else the level `alertId` ends with."""
    value, where = _either(body, policy, "alarmLevel")
    if value is not None:
        return scalar_string(value, where).strip()
    return f.level_of_alert_id(text_field(body, "alertId", ""))


def _annotations(
    body: dict[str, Any],
    policy: dict[str, Any],
    conditions: dict[str, Any],
    dims: dict[str, str],
    region: str,
) -> dict[str, str]:
    def cond(key: str) -> str:
        return text_field(conditions, key, CONDITIONS)

    unit = cond("unit")
    threshold = f"{cond('calcType')} {cond('calcValue')}{cond('calcUnit') or unit}".strip()
    current = cond("currentValue")
    what = cond("metricShowName") or cond("metricName")
    what = f"{what} {threshold}" if what and cond("calcValue") else what
    what = (
        what or cond("eventShowName") or cond("eventName") or text_field(policy, "policyName", "")
    )
    target = f.object_name(dims)
    kind = text_field(policy, "policyTypeCName", POLICY) or text_field(policy, "policyType", POLICY)
    duration = text_field(body, "durationTime", "")
    lines = [
        f"Current value {current}{unit} (threshold {threshold})." if current else "",
        f"Policy: {text_field(policy, 'policyName', POLICY)}" + (f" ({kind})" if kind else ""),
        f"Object: {target}" + (f" in {region}" if region else "") if target else "",
        f"Alarming for {duration} s." if duration not in ("", "0") else "",
    ]
    notes = {
        "summary": f"{what} on {target}" if target else what,
        "description": "\n".join(line for line in lines if line),
        "value": f"{current}{unit}" if current else "",
        "threshold": threshold if cond("calcValue") else "",
        "duration_seconds": duration,
        "tencentcloud_session_id": text_field(body, "sessionId", ""),
        "tencentcloud_alert_id": text_field(body, "alertId", ""),
    }
    return {k: v for k, v in notes.items() if v}
