"""The typed, frozen settings. `config/example.yaml` documents every key defined here."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from bot.alerts.matchers import Matcher, parse_matcher
from bot.model import Destination, Tier
from bot.settings.deploy import DeploySettings
from bot.settings.durations import Duration
from bot.settings.gates import Gate
from bot.settings.oncall import (
    Channel,
    Contact,
    EscalationPolicy,
    Paging,
    Schedule,
    TimeZone,
)
from bot.settings.reports import Reports
from bot.settings.retention import Retention
from bot.settings.sourceauth import SourceAuth
from bot.settings.sourcekinds import REQUIRES, SourceKind, auth_problems
from bot.settings.watch import Heartbeat, Maintenance


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


def _matchers(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(parse_matcher(f'{k}="{v}"') for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(v if isinstance(v, Matcher) else parse_matcher(str(v)) for v in value)
    raise ValueError("matchers must be a list like ['severity=\"critical\"'] or a mapping")


Matchers = Annotated[tuple[Matcher, ...], BeforeValidator(_matchers)]


def _destination(value: Any) -> Any:
    return value if isinstance(value, Destination) else Destination.parse(str(value))


Dest = Annotated[Destination, BeforeValidator(_destination)]
LabelName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class General(_Frozen):
    language: Literal["zh", "en"] = "en"
    timezone: TimeZone = "UTC"
    """The zone cards show times in for whoever chose none (`/tz`), nor their chat."""
    public_url: str = "http://127.0.0.1:8080"
    secret_key: str = Field(min_length=16)
    log_format: Literal["json", "console"] = "json"
    demo: bool = False


class Server(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_alert_body_bytes: int = Field(16_777_216, ge=1024)
    """The alert routes' limit: Alertmanager sends a whole group in one body and does not
    retry a 413, so it must carry the largest group (10,000 alerts of 1.6 KB)."""
    workers: Annotated[int, Field(ge=1, le=64)] | Literal["auto"] = "auto"
    """Server processes on this machine; each runs the engine too (passes are replica-safe).
    `auto`: half the machine's cores, at least one (the other half is left to the database,
    which small installations run beside Tocsin); always one on SQLite (one writer)."""


class Database(_Frozen):
    url: str = "sqlite+aiosqlite:///tocsin.db"
    auto_migrate: bool = False
    pool_size: int = Field(10, ge=1)

    @field_validator("url")
    @classmethod
    def _driver(cls, url: str) -> str:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB")
        return url


class AlertmanagerAPI(_Frozen):
    """Where an `alertmanager` source's own API (v2) answers: silences made from a card are
    created there, and silences made there show on the cards of the alerts they match."""

    url: str = Field(pattern=r"^https?://")
    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: Duration = timedelta(seconds=5)
    poll_interval: Duration = timedelta(seconds=30)
    """How often its silences are read (doubled after each failure, up to ten times this)."""

    @model_validator(mode="after")
    def _auth(self) -> AlertmanagerAPI:
        if self.bearer_token and (self.username or self.password):
            raise ValueError("set bearer_token or username and password, not both")
        if bool(self.username) != bool(self.password):
            raise ValueError("basic auth needs both username and password")
        return self


class Source(_Frozen):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: SourceKind
    auth: SourceAuth
    api: AlertmanagerAPI | None = None
    service_from: tuple[LabelName, ...] | None = None
    """Tags (as labels) whose first present value becomes the `service` label; unset: the
    kind's default (`adapters.sources.tags.SERVICE_TAGS` for vendor kinds, none otherwise)."""
    env_from: tuple[LabelName, ...] | None = None
    """The same for the `env` label (default `adapters.sources.tags.ENV_TAGS`)."""

    @model_validator(mode="before")
    @classmethod
    def _scheme(cls, data: Any) -> Any:
        """A Sentry source's secret is checked the way Sentry signs, unless told otherwise."""
        if isinstance(data, dict) and data.get("kind") in REQUIRES:
            auth = data.get("auth")
            if isinstance(auth, dict) and "hmac_secret" in auth and "hmac_scheme" not in auth:
                data = {**data, "auth": {**auth, "hmac_scheme": REQUIRES[data["kind"]]}}
        return data

    @model_validator(mode="after")
    def _api(self) -> Source:
        if self.api is not None and self.kind != "alertmanager":
            raise ValueError(f"api: only an alertmanager source has one, not a {self.kind} source")
        problems = auth_problems(self.kind, self.auth.methods)
        if problems:
            raise ValueError("; ".join(f"auth.{key}: {problem}" for key, problem in problems))
        return self


class TierRule(_Frozen):
    matchers: Matchers
    tier: Tier


class Tiers(_Frozen):
    rules: tuple[TierRule, ...] = (
        TierRule(matchers=(parse_matcher('severity=~"critical|p0|page|emergency"'),), tier=Tier.P0),
        TierRule(matchers=(parse_matcher('severity=~"high|error|major|p1"'),), tier=Tier.P1),
        TierRule(matchers=(parse_matcher('severity=~"warning|warn|medium|p2"'),), tier=Tier.P2),
    )
    default: Tier = Tier.P3


class Route(_Frozen):
    name: str = ""
    matchers: Matchers = ()
    destinations: tuple[Dest, ...] = Field(min_length=1)
    group_by: tuple[str, ...] = ("alertname", "service")
    """Labels that group alerts into one incident; ``["..."]`` makes every alert its own."""
    source_grouping: bool = True
    """Use the source's own group (Alertmanager's groupKey) when it sends one."""
    escalation_policy: str | dict[Tier, str] | None = None
    """The paging policy of the route's incidents, one for all tiers or one per tier (a tier
    left out pages nobody). Unset: `paging.default_policy`."""
    notify: tuple[Channel, ...] | None = None
    """Channels for the people this route pages, instead of `paging.channels` by tier."""
    tiers: tuple[Tier, ...] = ()
    """When set, the route applies only to these tiers."""
    continue_: bool = Field(False, alias="continue")


class Flapping(_Frozen):
    window: Duration = timedelta(minutes=10)
    max_changes: int = Field(4, ge=2)


class Incidents(_Frozen):
    ack_timeout: Duration | None = timedelta(hours=4)
    reopen_window: Duration = timedelta(hours=1)
    flapping: Flapping = Flapping()
    silence_choices: tuple[Duration, ...] = (
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=24),
    )


class User(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str = ""
    language: Literal["zh", "en"] | None = None
    identities: dict[str, str] = {}
    roles: tuple[str, ...] = ()
    contact: Contact = Contact()


class Role(_Frozen):
    grants: tuple[str, ...]


class RateLimit(_Frozen):
    rate: float = Field(gt=0)
    """Messages per second (0.333 for 20 per minute)."""
    burst: int = Field(ge=1)


class Outbox(_Frozen):
    max_attempts: int = Field(8, ge=1)
    base_backoff: Duration = timedelta(seconds=1)
    max_backoff: Duration = timedelta(minutes=5)
    poll_interval: Duration = timedelta(milliseconds=250)
    rate_limits: dict[str, RateLimit] = {}
    """Per platform overrides of the platform's declared rate (key: platform name)."""
    update_delay: Duration = timedelta(seconds=2)
    """A card whose incident only gained or lost alerts is refreshed this much later, so a
    burst of them is one edit; state changes and button presses go at once."""
    storm_horizon: Duration = timedelta(seconds=45)
    """New incidents fold into a digest when the destination cannot post them within this time.
    A card admitted during a storm is shown at most this long after it came, so a storm of S
    seconds is all visible (own cards and digest) after about S + 45 s."""
    storm_tiers: tuple[Tier, ...] = (Tier.P0, Tier.P1, Tier.P2, Tier.P3)
    """Tiers whose new incidents fold into the digest during a storm. A digest holding a P0
    shows as P0 and goes before everything else; its incidents still page their on-call people
    on their own channels. A tier left out gets one card per incident, however long the queue."""


class Console(_Frozen):
    enabled: bool = True
    auth: Literal["demo", "token"] = "token"
    chats: tuple[str, ...] = ("ops",)
    tokens: dict[str, str] = {}
    """Console sign-in tokens per Tocsin user id (auth: token)."""


class Service(_Frozen):
    owner: str = ""
    environments: tuple[str, ...] = ()
    rollback_priority: int = 0
    """Queued rollbacks of services with a higher priority start first (core services such as
    orders and payments)."""
    gate: dict[str, Gate] = {}
    """Its health gate after deploys and rollbacks, by environment (``"*"``: every other)."""
    deploy: dict[str, dict[str, Any]] = {}
    """Where it deploys, by environment (``"*"``: every other one): ``{backend: <name>, …}``
    plus the backend's target keys (namespace and deployment, job, chart…)."""


AuditSecret = Annotated[SecretStr, Field(min_length=16)]


class Audit(_Frozen):
    key: AuditSecret | None = None
    """Signs the audit chain (default: ``tocsin.secret_key``); see `bot.audit.keys`."""
    previous_keys: tuple[AuditSecret, ...] = ()
    """Former keys (or a former ``tocsin.secret_key``): older rows still verify under them."""


class Settings(_Frozen):
    tocsin: General
    server: Server = Server()
    database: Database = Database()
    sources: tuple[Source, ...] = ()
    environments: tuple[str, ...] = ("staging", "prod")
    services: dict[str, Service] = {}
    tiers: Tiers = Tiers()
    routes: tuple[Route, ...] = ()
    default_route: Route | None = None
    incidents: Incidents = Incidents()
    users: tuple[User, ...] = ()
    roles: dict[str, Role] = {}
    outbox: Outbox = Outbox()
    console: Console = Console()
    schedules: dict[str, Schedule] = {}
    escalation_policies: dict[str, EscalationPolicy] = {}
    groups: dict[str, tuple[str, ...]] = {}
    """Named groups of users, paged together by a `group:<name>` target."""
    paging: Paging = Paging()
    deploy: DeploySettings = DeploySettings()
    retention: Retention = Retention()
    audit: Audit = Audit()
    maintenance: Maintenance = Maintenance()
    reports: Reports = Reports()
    heartbeats: dict[str, Heartbeat] = {}
    """Expected beats by name (``[a-z0-9][a-z0-9_-]*``)."""
    metrics: dict[str, Any] | None = None
    """Where health gates read metrics: ``{prometheus: {url: …}}`` (validated by
    `adapters.metrics`)."""
    pagers: dict[str, Any] | None = None
    """SMS, voice and e-mail providers (validated by `adapters.notify`)."""
    # Each chat adapter validates its own section (see `bot.bootstrap.chat_adapters`).
    slack: dict[str, Any] | None = None
    dingtalk: dict[str, Any] | None = None
    wecom: dict[str, Any] | None = None
    feishu: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _references(self) -> Settings:
        problems = []
        for index, user in enumerate(self.users):
            for role in user.roles:
                if role not in self.roles:
                    problems.append(f"users.{index}.roles: unknown role {role!r}")
        names = [s.name for s in self.sources]
        if len(names) != len(set(names)):
            problems.append("sources: source names must be unique")
        ids = [u.id for u in self.users]
        if len(ids) != len(set(ids)):
            problems.append("users: user ids must be unique")
        seen: dict[tuple[str, str], str] = {}
        for user in self.users:
            for platform, pid in user.identities.items():
                if (platform, pid) in seen:
                    problems.append(
                        f"users: {platform} identity {pid!r} is given to both "
                        f"{seen[(platform, pid)]!r} and {user.id!r}"
                    )
                seen[(platform, pid)] = user.id
        for user_id in self.console.tokens:
            if user_id not in ids:
                problems.append(f"console.tokens: unknown user {user_id!r}")
        for name, service in self.services.items():
            if service.owner and service.owner not in ids:
                problems.append(f"services.{name}.owner: unknown user {service.owner!r}")
            for env in service.environments:
                if env not in self.environments:
                    problems.append(f"services.{name}.environments: unknown environment {env!r}")
        problems += _oncall_references(self, set(ids))
        problems += _deploy_references(self)
        problems += _watch_references(self)
        if problems:
            raise ValueError("\n".join(problems))  # one line each, key path first
        return self

    def server_workers(self, cores: int | None = None) -> int:
        """How many server processes `tocsin run` starts (`server.workers`)."""
        if self.database.url.startswith("sqlite"):
            return 1
        if self.server.workers != "auto":
            return self.server.workers
        return max(1, (cores if cores is not None else os.cpu_count() or 1) // 2)

    def service_environments(self, service: str) -> tuple[str, ...]:
        svc = self.services.get(service)
        return svc.environments if svc and svc.environments else self.environments


def _oncall_references(s: Settings, users: set[str]) -> list[str]:
    """Names the on-call sections use must exist: people, schedules, groups and policies."""
    problems = []
    for name, schedule in s.schedules.items():
        for rotation in schedule.rotations:
            for who in rotation.participants:
                if who not in users:
                    problems.append(
                        f"schedules.{name}.rotations.{rotation.name}: unknown user {who!r}"
                    )
        for index, override in enumerate(schedule.overrides):
            if override.user not in users:
                problems.append(
                    f"schedules.{name}.overrides.{index}: unknown user {override.user!r}"
                )
        layers = [r.name for r in schedule.rotations]
        if len(layers) != len(set(layers)):
            problems.append(f"schedules.{name}: rotation names must be unique")
    for name, members in s.groups.items():
        for who in members:
            if who not in users:
                problems.append(f"groups.{name}: unknown user {who!r}")
    known = {"user": users, "schedule": set(s.schedules), "group": set(s.groups)}
    for name, chain in s.escalation_policies.items():
        for index, step in enumerate(chain.steps):
            for target in step.targets:
                kind, _, ref = target.partition(":")
                if kind in known and ref not in known[kind]:
                    problems.append(
                        f"escalation_policies.{name}.steps.{index}: unknown {kind} {ref!r}"
                    )
    policies = set(s.escalation_policies)
    if s.paging.default_policy and s.paging.default_policy not in policies:
        problems.append(f"paging.default_policy: unknown policy {s.paging.default_policy!r}")
    routes = [*s.routes, *([s.default_route] if s.default_route else [])]
    for index, route in enumerate(routes):
        chosen = route.escalation_policy
        names = chosen.values() if isinstance(chosen, dict) else [chosen] if chosen else []
        for policy in names:
            if policy not in policies:
                where = f"routes.{index}" if index < len(s.routes) else "default_route"
                problems.append(f"{where}.escalation_policy: unknown policy {policy!r}")
    return problems


def _deploy_references(s: Settings) -> list[str]:
    problems = []
    for name, service in s.services.items():
        for env, target in service.deploy.items():
            if env != "*" and env not in s.environments:
                problems.append(f"services.{name}.deploy: unknown environment {env!r}")
            backend = target.get("backend")
            if backend not in s.deploy.backends:
                problems.append(
                    f"services.{name}.deploy.{env}.backend: unknown backend {backend!r}"
                )
    for env in s.deploy.approvals:
        if env not in s.environments:
            problems.append(f"deploy.approvals: unknown environment {env!r}")
    for name, raw in s.deploy.backends.items():
        if not isinstance(raw, dict) or "kind" not in raw:
            problems.append(f"deploy.backends.{name}: needs a kind")
    return problems


def _watch_references(s: Settings) -> list[str]:
    """Heartbeats name real Alertmanager sources; windows name known services and environments."""
    problems = []
    alertmanagers = {src.name for src in s.sources if src.kind == "alertmanager"}
    for name, beat in s.heartbeats.items():
        where = f"heartbeats.{name}"
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
            problems.append(f"{where}: a name is lower-case letters, digits, - and _")
        if beat.auth is None and beat.watchdog is None:
            problems.append(f"{where}: set auth (for POST /api/v1/heartbeats/{name}) or watchdog")
        if beat.watchdog is not None and beat.watchdog.source not in alertmanagers:
            problems.append(
                f"{where}.watchdog.source: no alertmanager source named {beat.watchdog.source!r}"
            )
    for index, window in enumerate(s.maintenance.windows):
        where = f"maintenance.windows.{index}"
        if window.service != "*" and s.services and window.service not in s.services:
            problems.append(f"{where}.service: unknown service {window.service!r}")
        if window.environment != "*" and window.environment not in s.environments:
            problems.append(f"{where}.environment: unknown environment {window.environment!r}")
    return problems
