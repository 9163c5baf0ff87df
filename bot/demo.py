"""The embedded demo: SQLite, the web console, three services and three people with different
roles, and realistic alerts to fire at it."""

from __future__ import annotations

import random
import secrets
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.alerts.event import AlertEvent, AlertStatus, label_fingerprint
from bot.settings import Settings, parse_settings
from bot.store.db import Database
from bot.store.tables import runs

DEMO_SOURCE = "demo"


def _secret(data_dir: Path, name: str) -> str:
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def demo_token(data_dir: Path) -> str:
    """The bearer token of the demo's alert sources (made on first start, kept in the folder)."""
    return _secret(data_dir, "demo-token")


_DEPLOY = {"*": {"backend": "demo"}}
_GATE = {
    "*": {
        "mode": "auto",
        "metrics": [
            {
                "name": "error_rate",
                "query": 'demo_error_ratio{service="$service",environment="$environment"}',
                "success": "<= 0.05",
                "interval": "5s",
                "count": 3,
                "consecutive_failure_limit": 2,
                "traffic": {
                    "query": 'demo_request_rate{service="$service",environment="$environment"}',
                    "minimum": 1,
                },
            }
        ],
    }
}

DEMO_VERSIONS = {"orders": "v1.4.1", "payments": "v2.0.3", "storefront": "v3.2.0"}
"""What the demo services run at first, recorded as verified so a rollback has a target."""


async def seed_ledger(db: Database, now: datetime) -> None:
    """Record the demo services' running versions, once."""
    async with db.begin() as conn:
        if (await conn.execute(select(runs.c.id).limit(1))).first() is not None:
            return
        for service, version in DEMO_VERSIONS.items():
            for environment in ("staging", "prod"):
                await conn.execute(
                    runs.insert().values(
                        action="deploy",
                        service=service,
                        environment=environment,
                        version=version,
                        previous="",
                        params={},
                        dry_run=False,
                        backend="demo",
                        op_hash="",
                        state="succeeded",
                        priority=0,
                        requested_by="demo",
                        reason="running when the demo started",
                        destinations=[],
                        url="",
                        message="recorded at demo start",
                        log_tail="",
                        verified=True,
                        created_at=now,
                        started_at=now,
                        finished_at=now,
                        updated_at=now,
                    )
                )


def demo_settings(data_dir: Path, host: str = "127.0.0.1", port: int = 8080) -> Settings:
    data_dir.mkdir(parents=True, exist_ok=True)
    token = demo_token(data_dir)
    auth = {"bearer_token": token}
    raw: dict[str, Any] = {
        "tocsin": {
            "language": "en",
            "public_url": f"http://{host}:{port}",
            "secret_key": _secret(data_dir, "secret-key"),
            "log_format": "console",
            "demo": True,
        },
        "server": {"host": host, "port": port},
        "database": {"url": f"sqlite+aiosqlite:///{data_dir / 'tocsin.db'}", "auto_migrate": True},
        "sources": [
            {"name": "alertmanager", "kind": "alertmanager", "auth": auth},
            {"name": "grafana", "kind": "grafana", "auth": auth},
            {"name": DEMO_SOURCE, "kind": "generic", "auth": auth},
        ],
        "environments": ["staging", "prod"],
        "services": {
            "orders": {
                "owner": "alice",
                "rollback_priority": 10,
                "deploy": _DEPLOY,
                "gate": _GATE,
            },
            "payments": {
                "owner": "alice",
                "rollback_priority": 10,
                "deploy": _DEPLOY,
                "gate": _GATE,
            },
            "storefront": {
                "owner": "bob",
                "deploy": _DEPLOY,
                "gate": {"*": {**_GATE["*"], "canary": {"weight": 20}}},
            },
        },
        # deploys run bot/demo_deploy.py through the shell backend: a version with "broken" in
        # it fails to roll out, one with "bad" goes live and breaks (storefront's goes to a 20 %
        # canary first, which alone is taken away), and the health gate rolls
        # it back; prod deploys need one approval (Carol's)
        "deploy": {
            "backends": {
                "demo": {
                    "kind": "shell",
                    "command": [
                        sys.executable,
                        "-m",
                        "bot.demo_deploy",
                        "--state-dir",
                        str(data_dir / "deployed"),
                    ],
                    "timeout": "2m",
                    "kill_grace": "2s",
                    "log_dir": str(data_dir / "runs"),
                }
            },
            "approvals": {"prod": {"deploy": 1}},
            "poll_interval": "1s",
            "drills": {"orders": {"environment": "staging", "version": "v0.0.0-drill-bad"}},
        },
        "routes": [
            {
                "name": f"demo-{tier.lower()}",
                "tiers": [tier],
                "destinations": ["console:ops"],
                "escalation_policy": "urgent" if tier in ("P0", "P1") else None,
            }
            for tier in ("P0", "P1", "P2", "P3")
        ],
        # on call: Alice and Bob take turns each day at 09:00 Shanghai time; Carol leads
        "schedules": {
            "primary": {
                "time_zone": "Asia/Shanghai",
                "rotations": [
                    {
                        "name": "daily",
                        "participants": ["alice", "bob"],
                        "shift": "daily",
                        "start": "2026-01-05T09:00",
                    }
                ],
                "announce": ["console:ops"],
            }
        },
        "groups": {"leads": ["carol"]},
        "escalation_policies": {
            "urgent": {
                "repeat": 1,
                "steps": [
                    {"targets": ["schedule:primary"], "delay": "2m"},
                    {"targets": ["group:leads", "chat:console:ops"], "delay": "5m"},
                ],
            }
        },
        # SMS and e-mail pages are kept in memory (see /incident why); configure real
        # providers under `pagers` (config/example.yaml)
        "pagers": {"sms": {"provider": "memory"}, "email": {"provider": "memory"}},
        "metrics": {"demo": {"state_dir": str(data_dir / "deployed")}},
        "users": [
            {
                "id": "alice",
                "name": "Alice Chen",
                "language": "en",
                "roles": ["sre"],
                "identities": {"console": "alice"},
                "contact": {"phone": "+8613800138000", "email": "alice@example.com"},
            },
            {
                "id": "bob",
                "name": "王博 (Bob)",
                "language": "zh",
                "roles": ["developer"],
                "identities": {"console": "bob"},
                "contact": {"phone": "+8613800138001", "email": "bob@example.com"},
            },
            {
                "id": "carol",
                "name": "Carol Diaz",
                "roles": ["lead"],
                "identities": {"console": "carol"},
                "contact": {"email": "carol@example.com"},
            },
        ],
        "roles": {
            "sre": {"grants": ["*"]},
            "developer": {
                "grants": [
                    "view",
                    "ack",
                    "silence:storefront",
                    "resolve:*:staging",
                    "rollback:storefront:staging",
                    "deploy:*:staging",
                    "rollback:*:staging",
                ]
            },
            "lead": {"grants": ["view", "approve"]},
        },
        "console": {"enabled": True, "auth": "demo", "chats": ["ops"]},
    }
    return parse_settings(raw, env={})


_SCENARIOS: list[dict[str, Any]] = [
    {
        "alertname": "HighErrorRate",
        "service": "orders",
        "env": "prod",
        "severity": "critical",
        "summary": "5xx rate on POST /api/orders is 7.4% (threshold 5%) for 5 minutes",
        "description": "Checkout requests fail since the last release; orders are being lost.",
    },
    {
        "alertname": "SlowOrderProcessing",
        "service": "orders",
        "env": "prod",
        "severity": "high",
        "summary": "p99 order processing latency is 34 s (threshold 30 s)",
        "description": "The order queue backs up; customers see 'processing' for a long time.",
    },
    {
        "alertname": "PaymentGatewayTimeouts",
        "service": "payments",
        "env": "prod",
        "severity": "critical",
        "summary": "12% of payment authorisations time out",
        "description": "Calls to the card processor exceed 10 s.",
    },
    {
        "alertname": "PodCrashLooping",
        "service": "storefront",
        "env": "staging",
        "severity": "warning",
        "summary": "storefront-7d9f pod restarted 6 times in 10 minutes",
        "description": "OOMKilled after the new image rollout.",
    },
    {
        "alertname": "CertificateExpiresSoon",
        "service": "storefront",
        "env": "prod",
        "severity": "info",
        "summary": "TLS certificate for shop.example.com expires in 12 days",
        "description": "Renew it before customers see browser warnings.",
    },
]


def demo_alert(now: datetime, pick: int | None = None) -> AlertEvent:
    """A realistic alert, a different one each time unless `pick` chooses."""
    scenario = _SCENARIOS[pick if pick is not None else random.randrange(len(_SCENARIOS))]
    labels = {k: scenario[k] for k in ("alertname", "service", "env", "severity")}
    labels["instance"] = f"{scenario['service']}-{random.randrange(16**6):06x}"
    return AlertEvent(
        source=DEMO_SOURCE,
        fingerprint=label_fingerprint(labels),
        status=AlertStatus.FIRING,
        labels=labels,
        annotations={
            "summary": scenario["summary"],
            "description": scenario["description"],
            **_links(scenario),
        },
        starts_at=now,
    )


def _links(scenario: dict[str, Any]) -> dict[str, str]:
    """The runbook and dashboard a real alert rule would name (example addresses)."""
    service, name, env = scenario["service"], scenario["alertname"], scenario["env"]
    return {
        "runbook_url": f"https://runbooks.example.com/{service}/{name}",
        "dashboard_url": f"https://grafana.example.com/d/{service}?var-env={env}",
    }


def demo_alert_json(pick: int | None = None) -> dict[str, Any]:
    """The same, in the generic webhook format (for `tocsin alert fire --demo`)."""
    scenario = _SCENARIOS[pick if pick is not None else random.randrange(len(_SCENARIOS))]
    return {
        "name": scenario["alertname"],
        "status": "firing",
        "severity": scenario["severity"],
        "service": scenario["service"],
        "environment": scenario["env"],
        "labels": {"instance": f"{scenario['service']}-{random.randrange(16**6):06x}"},
        "summary": scenario["summary"],
        "description": scenario["description"],
        "annotations": _links(scenario),
    }
