"""The schema. Changes here need an Alembic migration (`bot/store/migrations/versions`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Id = BigInteger().with_variant(Integer, "sqlite")
TS = UTCDateTime()

incidents = Table(
    "incidents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("group_key", String(512), nullable=False),
    Column("route", String(128), nullable=False),
    Column("tier", String(2), nullable=False),
    Column("title", String(512), nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("service", String(128), nullable=False, default=""),
    Column("environment", String(64), nullable=False, default=""),
    Column("labels", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("silenced_until", TS),
    Column("acked_by", String(64)),
    Column("acked_at", TS),
    Column("ack_expires_at", TS),
    Column("resolved_by", String(64)),
    Column("resolved_at", TS),
    Column("flapping", Boolean, nullable=False, default=False),
    Column("firing_count", Integer, nullable=False, default=0),
    Column("alert_count", Integer, nullable=False, default=0),
    Column("destinations", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("card_due_at", TS),
    # When the incident last became triggered (opened, re-opened, un-acknowledged, or its
    # acknowledgement expired): escalation runs once per such episode.
    Column("triggered_at", TS),
    # Direct-message chats its card was paged to; they get its in-place updates too.
    Column("page_destinations", JSON),
    # The maintenance window its current episode was triggered in (maintenance_windows.id).
    Column("maintenance_id", Id),
    # How it was acknowledged: a chat platform, "sms_reply", "voice_key", "link:<channel>".
    Column("acked_via", String(32)),
    Index(
        "uq_incidents_open_group",
        "group_key",
        unique=True,
        sqlite_where=text("status != 'resolved'"),
        postgresql_where=text("status != 'resolved'"),
    ),
    Index("ix_incidents_status_due", "status", "silenced_until", "ack_expires_at"),
    Index("ix_incidents_card_due", "card_due_at"),
    Index("ix_incidents_resolved", "resolved_at"),
    # Earlier incidents of a service, newest first (similar past incidents on a card).
    Index("ix_incidents_service", "service", "created_at"),
    # An alert's group: its open incident or one resolved lately (reopen_window).
    Index("ix_incidents_group", "group_key", "resolved_at"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("fingerprint", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("name", String(256), nullable=False),
    Column("summary", Text, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("generator_url", Text, nullable=False, default=""),
    Column("starts_at", TS),
    Column("ends_at", TS),
    Column("first_seen_at", TS, nullable=False),
    Column("last_seen_at", TS, nullable=False),
    Column("received_count", Integer, nullable=False, default=1),
    Column("changes", JSON, nullable=False),
    Column("incident_id", Id, nullable=False),
    UniqueConstraint("source", "fingerprint"),
    Index("ix_alerts_incident", "incident_id"),
)

card_posts = Table(
    "card_posts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("card_ref", String(128), nullable=False),
    Column("destination", String(256), nullable=False),
    Column("ref", JSON, nullable=False),
    # the status the chat last saw, for platforms that repost instead of updating in place
    Column("shown", String(32)),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("card_ref", "destination"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("destination", String(256), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("card_ref", String(128), nullable=False, default=""),
    Column("payload", JSON, nullable=False),
    Column("priority", Integer, nullable=False, default=3),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", TS, nullable=False),
    Column("claimed_until", TS),
    Column("last_error", Text),
    Column("created_at", TS, nullable=False),
    Column("sent_at", TS),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_card", "card_ref", "destination", "status"),
    Index("ix_outbox_destination", "destination", "status"),
)

# Presses and commands taken from a platform, stored before the platform is told OK (see
# bot/inbox): handled from here, by the replica that took them or, after its lease, by any.
inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(32), nullable=False),
    Column("event_id", String(256), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("request", JSON, nullable=False),
    Column("route", JSON, nullable=False),
    Column("state", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_until", TS, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("done_at", TS),
    UniqueConstraint("platform", "event_id"),
    Index("ix_inbox_due", "state", "lease_until"),
)

# One row per destination sent to: the send budget all replicas share (see bot/outbox/budget.py).
send_budgets = Table(
    "send_budgets",
    metadata,
    Column("destination", String(256), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("blocked_until", TS),
    # send times within the platform's window, microseconds since the epoch (at most N)
    Column("recent", JSON, nullable=False),
)

inbound_events = Table(
    "inbound_events",
    metadata,
    Column("platform", String(32), primary_key=True),
    Column("event_id", String(256), primary_key=True),
    Column("received_at", TS, nullable=False),
    Index("ix_inbound_events_received", "received_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("at", TS, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(256), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # The id of the key whose HMAC `hash` is (`bot.audit.keys`); NULL: a plain SHA-256 link
    # written before the audit key existed (migration 0013).
    Column("key_id", String(16)),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", Id, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

audit_anchor = Table(
    "audit_anchor",
    metadata,
    # Where the audit chain starts once its oldest entries were pruned: the last deleted
    # entry's id and hash, which the first remaining entry's `prev_hash` must match.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", Id, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("last_at", TS, nullable=False),
    Column("pruned_at", TS, nullable=False),
)

maintenance = Table(
    "maintenance",
    metadata,
    # Slow periodic passes (pruning): when each is next due, so one replica runs it at a time.
    Column("name", String(64), primary_key=True),
    Column("due_at", TS, nullable=False),
    Column("ran_at", TS),
)

used_links = Table(
    "used_links",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("used_by", String(64), nullable=False),
    Column("used_at", TS, nullable=False),
)

sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("key", String(160), primary_key=True),  # address:<client> or user:<claimed user id>
    Column("window_start", TS, nullable=False),
    Column("window_failures", Integer, nullable=False),
    Column("level", Integer, nullable=False),  # back-offs earned since last forgiven
    Column("blocked_until", TS),
    Column("last_failure_at", TS, nullable=False, index=True),
)

preferences = Table(
    "preferences",
    metadata,
    Column("scope", String(300), primary_key=True),
    Column("language", String(8)),  # None: not chosen (a time zone alone was)
    Column("timezone", String(64)),  # an IANA zone name; None: not chosen
)

digests = Table(
    "digests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("destination", String(256), nullable=False),
    Column("open", Boolean, nullable=False),
    Column("incident_ids", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index(
        "uq_digests_open_destination",
        "destination",
        unique=True,
        sqlite_where=text("open"),
        postgresql_where=text("open"),
    ),
)

console_messages = Table(
    "console_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("chat", String(128), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("author", String(128), nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("card", JSON),
    Column("private_to", String(64)),
    Column("reply_to", Id),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_console_messages_chat", "chat", "id"),
    Index("ix_console_messages_updated", "updated_at"),
)

escalations = Table(
    "escalations",
    metadata,
    Column("incident_id", Id, primary_key=True, autoincrement=False),
    Column("policy", String(128), nullable=False),
    # The policy's steps as they were when the episode started (edits affect new ones).
    Column("plan", JSON, nullable=False),
    Column("episode", TS, nullable=False),
    # Counts episodes: part of every page's idempotency key.
    Column("cycle", Integer, nullable=False),
    Column("step", Integer, nullable=False),
    Column("loop", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("next_at", TS),
    Column("updated_at", TS, nullable=False),
    Index("ix_escalations_due", "state", "next_at"),
)

escalation_log = Table(
    "escalation_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("loop", Integer, nullable=False),
    Column("step", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("due_at", TS, nullable=False),
    Column("ran_at", TS, nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_escalation_log_incident", "incident_id", "id"),
)

pages = Table(
    "pages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("loop", Integer, nullable=False),
    Column("step", Integer, nullable=False),
    Column("recipient", String(300), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("address", String(512), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(256), nullable=False, default=""),
    Column("provider", String(32), nullable=False, default=""),
    Column("provider_ref", String(128), nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", TS),
    Column("claimed_until", TS),
    Column("created_at", TS, nullable=False),
    Column("sent_at", TS),
    # Failover: the position, in the channel's order for this number, of the provider that
    # sends next (or sent last); `confirm_by`, when a send not yet confirmed delivered moves on.
    Column("provider_pos", Integer, nullable=False, default=0),
    Column("confirm_by", TS),
    # The last provider's report on the current send: "" (none yet), delivered, failed,
    # undelivered, no_answer, busy; and when it was delivered.
    Column("delivery", String(16), nullable=False, default=""),
    Column("delivered_at", TS),
    UniqueConstraint("incident_id", "cycle", "loop", "step", "recipient", "channel"),
    Index("ix_pages_due", "status", "next_attempt_at"),
    Index("ix_pages_recipient", "recipient", "channel", "sent_at"),
    Index("ix_pages_sent", "sent_at"),  # reports over a period
    Index("ix_pages_confirm", "confirm_by"),
)

page_sends = Table(
    "page_sends",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("page_id", Id, nullable=False),
    Column("incident_id", Id, nullable=False),
    Column("provider", String(32), nullable=False),  # its name (`bot.ports.Provider.name`)
    Column("position", Integer, nullable=False),
    Column("provider_ref", String(128), nullable=False),
    # sent · delivered · failed · undelivered · no_answer · busy · superseded
    Column("status", String(16), nullable=False),
    Column("detail", String(256), nullable=False, default=""),
    Column("sent_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_page_sends_ref", "provider", "provider_ref"),
    Index("ix_page_sends_page", "page_id"),
    Index("ix_page_sends_incident", "incident_id"),
)

page_receipts = Table(
    "page_receipts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("provider", String(32), nullable=False),
    Column("provider_ref", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("detail", String(256), nullable=False, default=""),
    Column("at", TS, nullable=False),
    Column("received_at", TS, nullable=False),
    Column("applied", Boolean, nullable=False, default=False),
    Index("ix_page_receipts_ref", "provider", "provider_ref"),
    Index("ix_page_receipts_waiting", "applied", "received_at"),
)

round_robin = Table(
    "round_robin",
    metadata,
    Column("policy", String(128), primary_key=True),
    Column("step", Integer, primary_key=True, autoincrement=False),
    Column("counter", Integer, nullable=False),
)

schedule_overrides = Table(
    "schedule_overrides",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("schedule", String(128), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("starts_at", TS, nullable=False),
    Column("ends_at", TS, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("reason", String(256), nullable=False, default=""),
    Column("created_at", TS, nullable=False),
    Index("ix_schedule_overrides_schedule", "schedule", "ends_at"),
)

swap_requests = Table(
    "swap_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("schedule", String(128), nullable=False),
    Column("requester", String(64), nullable=False),
    Column("other", String(64), nullable=False),
    Column("shift_start", TS, nullable=False),
    Column("shift_end", TS, nullable=False),
    Column("other_start", TS),
    Column("other_end", TS),
    Column("status", String(16), nullable=False),
    Column("destinations", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("decided_at", TS),
    # swap: shifts traded; cover: the requester's shift given to the other; take: the other's
    # shift taken by the requester (`/oncall take`).
    Column("kind", String(8), nullable=False, default="swap", server_default="swap"),
    Index("ix_swap_requests_decided", "status", "decided_at"),
)

schedule_state = Table(
    "schedule_state",
    metadata,
    Column("schedule", String(128), primary_key=True),
    Column("user_id", String(64)),
    # Due time of the next check: the current shift's end, or now after an override.
    Column("until", TS),
    Column("gaps_checked_at", TS),
    # Start times of gaps already announced.
    Column("warned", JSON, nullable=False),
    Column("updated_at", TS, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    # The release ledger: every deploy and rollback, who asked, what ran and how it ended.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("action", String(16), nullable=False),
    Column("service", String(128), nullable=False),
    Column("environment", String(64), nullable=False),
    Column("version", String(128), nullable=False),
    Column("previous", String(128), nullable=False, default=""),
    Column("params", JSON, nullable=False),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("backend", String(128), nullable=False),
    Column("op_hash", String(64), nullable=False),
    # What approvals bind to: the operation's service, environment, versions, backend, params.
    Column("state", String(24), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("requested_by", String(64), nullable=False),
    Column("reason", String(256), nullable=False, default=""),
    Column("incident_id", Id),
    Column("destinations", JSON, nullable=False),
    Column("ref", JSON),
    Column("url", Text, nullable=False, default=""),
    Column("message", Text, nullable=False, default=""),
    Column("log_tail", Text, nullable=False, default=""),
    Column("progress", Integer),
    Column("verified", Boolean, nullable=False, default=False),
    # Ended well and passed its checks: the version a rollback returns to.
    Column("stage", String(16), nullable=False, default="", server_default=""),
    # "canary": only the canary (a deploy puts it up, a rollback takes it away); "": everything.
    Column("canary_weight", Integer, nullable=False, default=0, server_default="0"),
    Column("parent_id", Id),
    # The canary run that a promotion or a canary's removal follows.
    Column("due_at", TS),
    # The next thing to do for it: confirmation or approval lapse, next poll, lease end.
    Column("created_at", TS, nullable=False),
    Column("started_at", TS),
    Column("finished_at", TS),
    Column("updated_at", TS, nullable=False),
    Index("ix_runs_target", "service", "environment", "id"),
    Index("ix_runs_state_due", "state", "due_at"),
)

run_approvals = Table(
    "run_approvals",
    metadata,
    Column("run_id", Id, primary_key=True, autoincrement=False),
    Column("user_id", String(64), primary_key=True),
    Column("op_hash", String(64), nullable=False),
    Column("decision", String(8), nullable=False),
    Column("at", TS, nullable=False),
)

locks = Table(
    "locks",
    metadata,
    # "orders:prod", "env:prod" or "all" (sticky, from /lock), and "run:orders:prod" (one run at
    # a time, held by the running run).
    Column("scope", String(200), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("reason", String(256), nullable=False, default=""),
    Column("sticky", Boolean, nullable=False),
    Column("run_id", Id),
    Column("created_at", TS, nullable=False),
)

gate_runs = Table(
    "gate_runs",
    metadata,
    # A health gate's analysis of one deploy or rollback run, and what was decided.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, nullable=False),
    Column("service", String(128), nullable=False),
    Column("environment", String(64), nullable=False),
    Column("version", String(128), nullable=False),
    Column("after_rollback", Boolean, nullable=False),
    Column("mode", String(8), nullable=False),
    Column("state", String(16), nullable=False),
    # measuring | passed | failed | inconclusive | countdown | held | rolled_back
    Column("started_at", TS, nullable=False),
    Column("due_at", TS),
    Column("decided_at", TS),
    Column("rollback_run_id", Id),
    Column("promote_run_id", Id),
    Column("note", Text, nullable=False, default=""),
    Index("ix_gate_runs_due", "state", "due_at"),
    Index("ix_gate_runs_run", "run_id"),
)

gate_measurements = Table(
    "gate_measurements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("gate_run_id", Id, nullable=False),
    Column("metric", String(128), nullable=False),
    Column("at", TS, nullable=False),
    Column("value", Float),
    Column("traffic", Float),
    Column("outcome", String(16), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Index("ix_gate_measurements_gate", "gate_run_id", "metric", "id"),
)

rca_drafts = Table(
    "rca_drafts",
    metadata,
    # The root-cause review draft written when a rollback ends (`tocsin incident export`).
    Column("run_id", Id, primary_key=True, autoincrement=False),
    Column("incident_id", Id),
    Column("markdown", Text, nullable=False),
    Column("facts", JSON),
    # What the review is made from (`bot.reviews.facts`), to show it in any language; NULL on
    # drafts written before it was kept.
    Column("created_at", TS, nullable=False),
    Index("ix_rca_drafts_incident", "incident_id"),
)

alert_rollbacks = Table(
    "alert_rollbacks",
    metadata,
    # Incidents already weighed for an alert-triggered rollback (each one once).
    Column("incident_id", Id, primary_key=True, autoincrement=False),
    Column("run_id", Id),
    Column("decision", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
)

drills = Table(
    "drills",
    metadata,
    # Rollback drills: a known-bad release in a test environment that the gate must catch and
    # the rollback must undo; how long each took.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("service", String(128), nullable=False),
    Column("environment", String(64), nullable=False),
    Column("version", String(128), nullable=False),
    Column("run_id", Id),
    Column("state", String(16), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("destinations", JSON, nullable=False),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS),
    Column("detect_seconds", Float),
    Column("restore_seconds", Float),
    Column("note", Text, nullable=False, default=""),
    Index("ix_drills_target", "service", "environment", "started_at"),
)

am_silences = Table(
    "am_silences",
    metadata,
    # Alertmanager silences of incidents, one row per silence: those Tocsin asks for (created
    # by a pass, retried while Alertmanager cannot be reached, expired on Unsilence) and those
    # found there (made in its UI or with amtool) that match an incident's alerts.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, nullable=False),
    Column("source", String(64), nullable=False),
    Column("origin", String(16), nullable=False),
    # "tocsin": asked for here; "alertmanager": found there.
    Column("scope", String(16), nullable=False, default="group"),
    # "group": the incident's common labels match exactly its alerts; "alert": one of its alerts.
    Column("matchers", JSON, nullable=False),
    Column("silence_id", String(64)),
    Column("state", String(16), nullable=False),
    # pending (to create) → active → expiring (to expire) → expired; failed: refused for good.
    Column("created_by", String(128), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("starts_at", TS, nullable=False),
    Column("ends_at", TS, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("due_at", TS),
    # When the pass next tries to create or expire it (back-off after a failure).
    Column("last_error", Text, nullable=False, default=""),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_am_silences_incident", "incident_id"),
    Index("ix_am_silences_state_due", "state", "due_at"),
    Index(
        "uq_am_silences_found",
        "source",
        "silence_id",
        "incident_id",
        unique=True,
        sqlite_where=text("silence_id IS NOT NULL"),
        postgresql_where=text("silence_id IS NOT NULL"),
    ),
)

maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    # Times alerts of a service and environment page nobody (but the tiers that always page):
    # opened with /maint, by a deploy while it runs (plus a grace), or a recurring window's
    # occurrence written ahead of time from the configuration.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    # "manual", "deploy" or "recurring".
    Column("name", String(64), nullable=False, default=""),
    # A recurring window's name in the configuration; "" otherwise.
    Column("service", String(128), nullable=False),
    Column("environment", String(64), nullable=False),
    # "*": any.
    Column("reason", Text, nullable=False, default=""),
    Column("created_by", String(64), nullable=False),
    Column("run_id", Id),
    Column("version", String(128), nullable=False, default=""),
    # A deploy window's run and the version it rolls out.
    Column("starts_at", TS, nullable=False),
    Column("ends_at", TS),
    # A deploy window ends grace after its run; until the run ends, at its longest possible end.
    Column("ended_at", TS),
    Column("ended_by", String(64)),
    # Ended early (/maint end), by whom.
    Column("created_at", TS, nullable=False),
    Index("ix_maintenance_windows_target", "service", "environment", "starts_at"),
    Index("ix_maintenance_windows_ends", "ends_at"),
    Index(
        "uq_maintenance_windows_occurrence",
        "name",
        "starts_at",
        unique=True,
        sqlite_where=text("kind = 'recurring'"),
        postgresql_where=text("kind = 'recurring'"),
    ),
    Index(
        "uq_maintenance_windows_run",
        "run_id",
        unique=True,
        sqlite_where=text("run_id IS NOT NULL"),
        postgresql_where=text("run_id IS NOT NULL"),
    ),
)

heartbeats = Table(
    "heartbeats",
    metadata,
    # One row per configured heartbeat: when it last beat, and whether it is missing (its
    # blind-monitoring alert fires).
    Column("name", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    # "waiting" (no beat yet), "ok" or "missing".
    Column("last_seen_at", TS),
    Column("last_via", String(64), nullable=False, default=""),
    # "http" or the Alertmanager source whose Watchdog beat (a source name, as alerts.source).
    Column("beats", BigInteger, nullable=False, default=0),
    Column("missing_since", TS),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

followups = Table(
    "followups",
    metadata,
    # The follow-up items of a root-cause review, tracked until done (`/review list`).
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id),
    # The review draft it came from (rca_drafts.run_id), when it came from one.
    Column("run_id", Id),
    Column("position", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("done", Boolean, nullable=False, default=False),
    Column("done_by", String(64)),
    Column("done_at", TS),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_followups_incident", "incident_id"),
    Index("ix_followups_run", "run_id"),
    Index("ix_followups_open", "done", "created_at"),
)

group_sync = Table(
    "group_sync",
    metadata,
    # A chat group kept in step with who is on call in a schedule (`schedules.*.chat_groups`):
    # the members it should have, those last applied, and the retry state.
    Column("schedule", String(128), primary_key=True),
    Column("target", String(300), primary_key=True),  # <platform>:<group or chat id>
    Column("wanted", JSON, nullable=False),
    Column("applied", JSON),
    Column("status", String(16), nullable=False),  # pending · ok · failed · missing
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", TS),
    Column("claimed_until", TS),
    Column("last_error", String(512), nullable=False, default=""),
    Column("updated_at", TS, nullable=False),
    Index("ix_group_sync_due", "status", "next_attempt_at"),
)

report_posts = Table(
    "report_posts",
    metadata,
    # A scheduled report (`reports:`) posted for one period: the row claims it, so one replica
    # posts it once.
    Column("name", String(128), primary_key=True),
    Column("period_start", TS, primary_key=True),
    Column("posted_at", TS, nullable=False),
)
