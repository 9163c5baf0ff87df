"""Prometheus metrics, on a registry per app (so tests and several apps never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series are noise
        self.registry = CollectorRegistry()
        r = self.registry
        self.alerts_received = Counter(
            "tocsin_alerts_received", "Alerts received, by source", ["source"], registry=r
        )
        self.alerts_deduplicated = Counter(
            "tocsin_alerts_deduplicated",
            "Alerts that repeated a known alert",
            ["source"],
            registry=r,
        )
        self.alerts_unrouted = Counter(
            "tocsin_alerts_unrouted", "Alerts that matched no route", registry=r
        )
        self.alert_requests_rejected = Counter(
            "tocsin_alert_requests_rejected",
            "Alert requests refused whole, by reason",
            ["reason"],
            registry=r,
        )
        self.alerts_rejected = Counter(
            "tocsin_alerts_rejected",
            "Single alerts refused while the rest of their request was stored",
            ["source", "reason"],
            registry=r,
        )
        self.alerts_truncated = Counter(
            "tocsin_alerts_truncated",
            "Alerts a sender left out of its requests (Alertmanager's max_alerts)",
            ["source"],
            registry=r,
        )
        self.incidents_opened = Counter("tocsin_incidents_opened", "Incidents opened", registry=r)
        self.cards_sent = Counter(
            "tocsin_messages_sent",
            "Messages delivered to chat platforms",
            ["platform", "kind"],
            registry=r,
        )
        self.outbox_failed = Counter(
            "tocsin_outbox_failed", "Outbox messages given up after all attempts", registry=r
        )
        self.outbox_depth = Gauge(
            "tocsin_outbox_depth", "Outbox messages waiting to be delivered", registry=r
        )
        self.outbox_lag = Gauge(
            "tocsin_outbox_lag_seconds", "Age of the oldest waiting outbox message", registry=r
        )
        self.escalation_steps = Counter(
            "tocsin_escalation_steps", "Escalation steps run", ["policy"], registry=r
        )
        self.escalation_lateness = Histogram(
            "tocsin_escalation_lateness_seconds",
            "How late escalation steps ran after their due time",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )
        self.engine_pass_seconds = Histogram(
            "tocsin_engine_pass_seconds",
            "How long each engine pass took (inbox, escalations, outbox, pages, runs, ...)",
            ["pass"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.engine_pass_timeouts = Counter(
            "tocsin_engine_pass_timeouts_total",
            "Engine passes cut because they ran past the pass timeout",
            ["pass"],
            registry=r,
        )
        self.pages = Counter(
            "tocsin_pages", "Pages by channel and outcome", ["channel", "status"], registry=r
        )
        self.page_deliveries = Counter(
            "tocsin_page_deliveries",
            "Providers' delivery reports on phone pages, by provider and status",
            ["provider", "status"],
            registry=r,
        )
        self.page_ack_seconds = Histogram(
            "tocsin_page_ack_seconds",
            "From an episode's first page to its acknowledgement, by how it came "
            "(sms, voice, email, chat)",
            ["channel"],
            buckets=(15, 30, 60, 120, 300, 600, 900, 1800, 3600),
            registry=r,
        )
        self.inbound_duplicates = Counter(
            "tocsin_inbound_duplicates", "Platform events seen before", ["platform"], registry=r
        )
        self.chat_connected = Gauge(
            "tocsin_chat_connected",
            "1 while a chat platform's connection (WebSocket or stream mode) is up",
            ["platform"],
            registry=r,
        )
        self.commands = Histogram(
            "tocsin_command_seconds",
            "Time to handle a command or card action",
            ["kind", "outcome"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.ingest_seconds = Histogram(
            "tocsin_ingest_seconds",
            "Time to ingest one alert request",
            ["source"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
        )
        self.database_up = Gauge(
            "tocsin_database_up", "1 while the database answers, 0 during an outage", registry=r
        )
        self.requests_refused = Counter(
            "tocsin_requests_refused",
            "Requests answered 503 because something they need is unavailable, by reason",
            ["reason"],
            registry=r,
        )
        self.auth_failures = Counter(
            "tocsin_auth_failures",
            "Sign-ins refused, by surface (console, action_link) and reason (bad_token, throttled)",
            ["surface", "reason"],
            registry=r,
        )
        self.heartbeat_last_seen = Gauge(
            "tocsin_heartbeat_last_seen_timestamp_seconds",
            "When each heartbeat last beat (unix time, read from the database: any replica's)",
            ["name"],
            registry=r,
        )
        self.heartbeats_missing = Gauge(
            "tocsin_heartbeats_missing", "Heartbeats missing now (monitoring blind)", registry=r
        )
        self.table_rows = Gauge(
            "tocsin_table_rows",
            "Rows in the tables that grow (PostgreSQL: the planner's estimate)",
            ["table"],
            registry=r,
        )
