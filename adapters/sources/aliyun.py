"""Alibaba Cloud alerts to `AlertEvent`s: ARMS alert management webhooks and CloudMonitor
threshold alarm callbacks, told apart by the body's shape.

- ARMS alert management (ARMS 告警管理) posts, for a webhook whose notification template is
  ``$alertmanager_content``, Prometheus Alertmanager's JSON (``alerts[]`` with ``status``,
  ``labels``, ``annotations``, ``fingerprint``, ``startsAt``/``endsAt``). Each alert is kept
  alone: a bad one is rejected, the others stored (`adapters.sources.aliyun_arms`).
- CloudMonitor (云监控) posts one alarm per request as a form: ``alertName``, ``alertState``
  (``ALERT``, ``OK``, ``INSUFFICIENT_DATA``), ``triggerLevel``, ``ruleId``, ``dimensions``,
  ``curValue``… (`adapters.sources.aliyun_cms`). JSON bodies with the same keys are read alike.

Both keep the vendor's labels or dimensions as labels, add a few ``aliyun_*`` labels worth
routing on (``aliyun_product`` says which sender), normalise the level into ``severity`` and keep
the vendor's word in ``aliyun_severity``. A body carrying no alert (ARMS ``"alerts": []``)
yields nothing and is answered 200, and so does ARMS's Send test (`decode`). CloudMonitor's
``signature`` field is not checked: Alibaba Cloud does not document how it is computed, so these
senders authenticate with a token (``?token=`` in the callback URL, or a header ARMS sets).
"""

from __future__ import annotations

from typing import Any

from adapters.sources import aliyun_arms, aliyun_cms
from adapters.sources._common import decode_form_or_json, require_object
from bot.alerts.batch import Parsed
from bot.errors import InputError

TEST_BODY = b"$alertmanager_content"
"""What ARMS's Send test (发送测试) posts: the template's variable, not filled in."""


def decode(body: bytes, content_type: str) -> Any:
    """A CloudMonitor form or a JSON body; ARMS's test a notification without alerts, so that
    Send test is answered 200 when the URL and token are right."""
    if body.strip() == TEST_BODY:
        return {"alerts": []}
    return decode_form_or_json(body, content_type)


def parse(payload: Any, source: str) -> Parsed:
    """The alerts of one decoded body (a form's fields or JSON). A body of neither shape, or a
    bad CloudMonitor callback, raises `InputError` naming the field; a bad ARMS alert is
    rejected alone."""
    body = require_object(payload, "payload")
    if "alerts" in body:
        return aliyun_arms.parse(body, source)
    if "alertName" in body or "alertState" in body:
        return Parsed([aliyun_cms.parse(body, source)])
    raise InputError(
        "alerts: required (an ARMS webhook's notification template must be "
        "$alertmanager_content; a CloudMonitor alarm callback has alertName and alertState)"
    )
