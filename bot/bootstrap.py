"""The composition root: the only place that picks concrete adapters and wires them together.

`bootstrap(settings)` builds everything without connecting or starting anything; the ASGI app's
lifespan (or a test) calls `start()` and `stop()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from adapters.chat.console.follow import ConsoleFollower
from adapters.chat.console.hub import ConsoleHub
from adapters.chat.console.platform import ConsolePlatform
from adapters.chat.console.routes import console_routes
from adapters.sources import DECODERS, PARSERS
from adapters.sources.auth import verify as verify_source
from bot.alerts.ingest import IngestService
from bot.alerts.seen import SeenCounts
from bot.audit import AuditKeys, use_keys
from bot.authz import Directory
from bot.authz.throttle import SignInGuard
from bot.cards import render
from bot.clock import Clock, SystemClock
from bot.demo import demo_alert, seed_ledger
from bot.deploys import canary
from bot.deploys.alerting import AlertRollbacks
from bot.deploys.requests import Requests
from bot.deploys.runner import Runner
from bot.deploys.service import RunDesk
from bot.dispatch import Dispatcher
from bot.engine import Engine
from bot.errors import ConfigError
from bot.escalation.engine import Escalator
from bot.escalation.pager import PageSender
from bot.gates.drill_pages import DrillPages
from bot.gates.drills import Drills
from bot.gates.runner import GateRunner
from bot.heartbeats.monitor import HeartbeatPass
from bot.heartbeats.watchdog import Watchdogs
from bot.incidents.actions import IncidentActions
from bot.incidents.rollback import RollbackHandoff
from bot.incidents.service import IncidentService
from bot.links import LinkSigner, LinkUses
from bot.metrics import Metrics
from bot.oncall.service import OnCallService
from bot.outbox.budget import Budgets, Limit
from bot.outbox.enqueue import Outbox
from bot.outbox.worker import OutboxWorker, WorkerSettings
from bot.paging.chains import Chains, Given, chains
from bot.paging.desk import PhoneDesk
from bot.paging.poll import ReceiptPass
from bot.paging.receipts import Receipts
from bot.paging.replies import Replies
from bot.ports import (
    ChatAdapter,
    ChatAdapterFactory,
    ChatPlatform,
    DeployBackend,
    MetricsSource,
)
from bot.ports.silences import SilenceAPI
from bot.replay import ReplayGuard
from bot.reports.weekly import NoiseCards
from bot.services import Registry, Services
from bot.settings import Settings
from bot.silences import Asking, SilencePush
from bot.silences.found import FoundSilences
from bot.store.db import Database
from bot.store.migrate import ensure_current
from bot.web.actions import ActionLinks
from bot.web.alerts import AlertEndpoint
from bot.web.heartbeats import heartbeat_routes
from bot.web.ops import ops_routes
from bot.web.schedules import schedule_routes
from bot.web.unavailable import DatabaseGuard
from commands import all_commands

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class Tocsin:
    """A wired Tocsin: its services, dispatcher, engine and ASGI app."""

    settings: Settings
    services: Services
    dispatcher: Dispatcher
    engine: Engine
    worker: OutboxWorker
    ingest: IngestService
    platforms: dict[str, ChatPlatform]
    app: ASGIApp = field(init=False)
    tick_interval: float = 0.25
    adapters: list[ChatAdapter] = field(default_factory=list)
    notifiers: Chains = field(default_factory=dict)
    """Each paging channel's providers, in failover order."""
    backends: dict[str, DeployBackend] = field(default_factory=dict)
    sources: dict[str, MetricsSource] = field(default_factory=dict)
    silence_apis: dict[str, SilenceAPI] = field(default_factory=dict)
    """Alertmanager APIs by source name (`sources[].api`)."""
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    """Loops that run while the app serves (e.g. the console's follower)."""
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, *, run_engine: bool = True) -> None:
        await ensure_current(self.services.db, auto_migrate=self.settings.database.auto_migrate)
        if self.settings.tocsin.demo:
            await seed_ledger(self.services.db, self.services.clock.now())
        if run_engine:
            self.engine.start(self.tick_interval)
        self._tasks = [asyncio.create_task(loop()) for loop in self.background]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.engine.stop()  # its last outbox pass may still use the adapters' clients
        for adapter in self.adapters:
            await adapter.aclose()
        for chain in self.notifiers.values():
            for provider in chain:
                await provider.notifier.aclose()
        for backend in self.backends.values():
            await backend.aclose()
        for source in self.sources.values():
            await source.aclose()
        for api in self.silence_apis.values():
            close = getattr(api, "aclose", None)
            if close is not None:
                await close()
        await self.services.db.dispose()

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    platforms: Mapping[str, ChatPlatform] | None = None,
    rollbacks: RollbackHandoff | None = None,
    database: Database | None = None,
    notifiers: Given | None = None,
    backends: Mapping[str, DeployBackend] | None = None,
    metrics_sources: Mapping[str, MetricsSource] | None = None,
    silence_apis: Mapping[str, SilenceAPI] | None = None,
) -> Tocsin:
    clock = clock or SystemClock()
    db = database or Database(settings.database.url, pool_size=settings.database.pool_size)
    use_keys(db, AuditKeys.from_settings(settings))  # every audit row this process links
    metrics = Metrics()
    metrics.database_up.set_function(lambda: 0.0 if db.outage.down else 1.0)
    chat: dict[str, ChatPlatform] = dict(platforms or {})
    adapters = chat_adapters(settings, clock, db) if platforms is None else []
    for adapter in adapters:
        for platform in adapter.platforms:
            chat[platform.name] = platform
    hub = ConsoleHub()
    console: ConsolePlatform | None = None
    if settings.console.enabled and "console" not in chat:
        console = ConsolePlatform(db, clock, hub, chats=settings.console.chats)
        chat["console"] = console
    budgets = Budgets(db, _limits(settings, chat))
    outbox = Outbox(
        db,
        budgets,
        settings.outbox.storm_horizon.total_seconds(),
        fold=frozenset(tier.rank for tier in settings.outbox.storm_tiers),
    )
    incidents = IncidentService(
        db, outbox, ack_timeout=settings.incidents.ack_timeout, posts_to=frozenset(chat)
    )
    pagers = chains(notifiers) if notifiers is not None else _notifiers(settings, clock)
    direct = [name for name, p in chat.items() if p.capabilities.direct_messages]
    escalator = Escalator(
        settings, db, outbox, clock, metrics, chat_platforms=direct, notifiers=list(pagers)
    )
    made = dict(backends) if backends is not None else _backends(settings, clock)
    requests = Requests(settings, db, outbox, made)
    sources = dict(metrics_sources) if metrics_sources is not None else _metrics(settings)
    unusable = canary.problems(settings, made, bool(sources))
    if unusable:
        raise ConfigError(unusable)
    gates = GateRunner(settings, db, clock, requests, next(iter(sources.values()), None))
    oncall = OnCallService(settings, db, outbox, direct)
    runs = RunDesk(settings, db, requests, list(made), gates)
    handoff: RollbackHandoff = rollbacks or runs
    apis = dict(silence_apis) if silence_apis is not None else _silence_apis(settings)
    registry = Registry()
    for command in all_commands():
        registry.add(command)
    services = Services(
        settings=settings,
        db=db,
        clock=clock,
        directory=Directory(settings),
        incidents=incidents,
        outbox=outbox,
        metrics=metrics,
        registry=registry,
        actions=IncidentActions(
            incidents,
            handoff,
            outbox,
            escalator,
            Asking(apis, settings.tocsin.public_url),
            metrics,
        ),
        seen=SeenCounts(),
        oncall=oncall,
        escalator=escalator,
        runs=runs,
    )
    ingest = IngestService(db, outbox, settings, clock, seen=services.seen)
    runs.drills = Drills(settings, db, requests, oncall.direct, DrillPages(settings, db, ingest))
    dispatcher = Dispatcher(services)
    signer = LinkSigner(settings.tocsin.secret_key, settings.tocsin.public_url)
    worker = OutboxWorker(
        db,
        clock,
        chat,
        budgets,
        partial(
            render,
            silence_choices=settings.incidents.silence_choices,
            escalate=bool(settings.escalation_policies),
            names={u.id: u.name or u.id for u in settings.users},
            runs=runs.card,
            recent_window=settings.deploy.recent_window,
            retention=settings.deploy.retention,
            deployable=frozenset(settings.services),
            phones=bool(pagers),
            reports=NoiseCards(settings).render,
        ),
        signer,
        WorkerSettings(
            max_attempts=settings.outbox.max_attempts,
            base_backoff=settings.outbox.base_backoff,
            max_backoff=settings.outbox.max_backoff,
            default_language=settings.tocsin.language,
            default_timezone=settings.tocsin.timezone,
            languages={u.id: u.language for u in settings.users if u.language},
        ),
        metrics,
    )
    page_links = LinkSigner(
        settings.tocsin.secret_key, settings.tocsin.public_url, ttl=settings.paging.link_ttl
    )
    receipts = Receipts(settings, db, clock, metrics, chains=pagers)
    engine = Engine(
        services,
        worker,
        PageSender(settings, db, clock, pagers, page_links, metrics),
        Runner(settings, db, clock, requests, made, gates),
        gates,
        AlertRollbacks(settings, db, requests) if made else None,
        runs.drills,
        dispatcher.resume,
        heartbeats=HeartbeatPass(settings, db, ingest, metrics),
        silences=SilencePush(db, clock, apis),
        found=FoundSilences(settings, db, incidents, apis),
        receipts=ReceiptPass(db, clock, pagers, receipts),
    )
    tocsin = Tocsin(
        settings,
        services,
        dispatcher,
        engine,
        worker,
        ingest,
        chat,
        tick_interval=settings.outbox.poll_interval.total_seconds(),
    )

    alerts_endpoint = AlertEndpoint(
        settings.sources,
        PARSERS,
        verify_source,
        ingest,
        metrics,
        settings.server.max_alert_body_bytes,
        on_ingested=engine.wake,
        watchdogs=Watchdogs(settings.heartbeats, db, clock),
        decoders=DECODERS,
    )
    routes: list[BaseRoute] = [
        *ops_routes(db, metrics, partial(_connections, adapters)),
        *schedule_routes(settings, db, clock),
        *heartbeat_routes(settings.heartbeats, db, clock, verify_source),
        *ActionLinks(
            signer,
            dispatcher,
            clock,
            settings.console.tokens,
            settings.tocsin.language,
            LinkUses(db),
            SignInGuard(db, clock, metrics, surface="action_link"),
        ).routes(),
    ]
    if pagers:  # providers' callbacks: delivery reports, SMS replies, keypresses
        from adapters.notify import callback_routes

        desk = PhoneDesk(receipts, Replies(settings, db, clock, dispatcher, metrics))
        routes += callback_routes(pagers, desk)
    tocsin.adapters = adapters
    tocsin.notifiers = pagers
    tocsin.backends = made
    tocsin.sources = sources
    tocsin.silence_apis = apis
    for adapter in adapters:
        routes += adapter.routes(dispatcher)
        tocsin.background.append(partial(adapter.run, dispatcher))
    if console is not None:
        fire: Callable[[], Awaitable[str]] | None = None
        if settings.tocsin.demo:
            fire = partial(_fire_demo_alert, ingest, clock, engine)
        tocsin.background.append(ConsoleFollower(db, hub, clock).run)
        routes += console_routes(
            console,
            hub,
            dispatcher,
            settings.console,
            settings.users,
            clock,
            fire,
            metrics,
            default_language=settings.tocsin.language,
            default_timezone=settings.tocsin.timezone,
        )
        routes.append(Route("/", lambda _r: RedirectResponse("/console")))
    # inside Starlette's own error handling, so a database outage is a 503 and not a 500
    guard = Middleware(DatabaseGuard, outage=db.outage, metrics=metrics)
    app = Starlette(routes=routes, middleware=[guard], lifespan=tocsin.lifespan)
    tocsin.app = alerts_endpoint.in_front_of(app)
    return tocsin


class ChatPackage(NamedTuple):
    """A chat adapter package's entry points. Typed as ports, so mypy checks each package's
    `create` (and the adapter it returns) against `ChatAdapterFactory` where it is loaded."""

    validate: Callable[[Mapping[str, object]], list[str]]
    create: ChatAdapterFactory


def _slack() -> ChatPackage:
    from adapters.chat import slack

    return ChatPackage(slack.validate, slack.create)


def _dingtalk() -> ChatPackage:
    from adapters.chat import dingtalk

    return ChatPackage(dingtalk.validate, dingtalk.create)


def _wecom() -> ChatPackage:
    from adapters.chat import wecom

    return ChatPackage(wecom.validate, wecom.create)


def _feishu() -> ChatPackage:
    from adapters.chat import feishu

    return ChatPackage(feishu.validate, feishu.create)


CHAT_ADAPTERS: dict[str, Callable[[], ChatPackage]] = {
    "slack": _slack,
    "dingtalk": _dingtalk,
    "wecom": _wecom,
    "feishu": _feishu,
}
"""Chat adapter packages by settings key. Each is imported only when its section is configured,
so a platform's SDK is loaded only where it is used."""


def chat_adapters(settings: Settings, clock: Clock, db: Database) -> list[ChatAdapter]:
    problems = check_adapters(settings)
    if problems:
        raise ConfigError(problems)
    made: list[ChatAdapter] = []
    for key, load in CHAT_ADAPTERS.items():
        raw = getattr(settings, key)
        if raw is not None:
            # who is who on this platform, so `platform:@<tocsin user>` reaches that person
            identities = {u.id: u.identities[key] for u in settings.users if key in u.identities}
            # signed callbacks already accepted, kept as `<key>:replay` events for every replica
            replays = ReplayGuard(db, clock, f"{key}:replay")
            made.append(load().create(raw, clock=clock, replays=replays, identities=identities))
    return made


def _connections(adapters: list[ChatAdapter]) -> dict[str, bool]:
    """Connection state of the adapters that keep one (an adapter without says None)."""
    states = {}
    for adapter in adapters:
        state = getattr(adapter, "connected", None)
        if state is not None:
            states[adapter.platforms[0].name] = bool(state)
    return states


def _metrics(settings: Settings) -> dict[str, MetricsSource]:
    """The metrics sources of the `metrics` section (none when it is unset)."""
    if not settings.metrics:
        return {}
    from adapters.metrics import create

    return create(settings.metrics)


def _silence_apis(settings: Settings) -> dict[str, SilenceAPI]:
    """The APIs of the `alertmanager` sources that name one (none: no import)."""
    if not any(source.api is not None for source in settings.sources):
        return {}
    from adapters.alertmanager.api import silence_apis

    return silence_apis(settings)


def _backends(settings: Settings, clock: Clock) -> dict[str, DeployBackend]:
    """The deploy backends of `deploy.backends` (none when it is empty)."""
    if not settings.deploy.backends:
        return {}
    from adapters.deploy import create

    return create(settings, clock=clock)


def _notifiers(settings: Settings, clock: Clock) -> Chains:
    """The SMS, voice and e-mail providers of the `pagers` section (none when it is unset)."""
    if settings.pagers is None:
        return {}
    problems = check_adapters(settings)
    if problems:
        raise ConfigError(problems)
    from adapters.notify import create

    return create(settings.pagers, clock=clock, public_url=settings.tocsin.public_url or "")


def _provider_choices(settings: Settings) -> list[str]:
    """People's ``contact.providers`` naming a provider their channel does not have."""
    from adapters.notify.settings import parse

    try:
        pagers = parse(settings.pagers or {})
    except ConfigError:
        return []  # reported by the section's own check
    problems = []
    for i, user in enumerate(settings.users):
        for channel, names in user.contact.providers.items():
            known = [p.label for p in getattr(pagers, channel)]
            problems += [
                f"users[{i}].contact.providers.{channel}: no {channel} provider named {name!r} "
                f"in pagers.{channel} ({', '.join(known) or 'none configured'})"
                for name in names
                if name not in known
            ]
    return problems


def check_adapters(settings: Settings) -> list[str]:
    """Problems in the adapters' own sections (named with their key paths)."""
    problems = []
    if settings.pagers is not None:
        from adapters.notify import validate as check_pagers

        problems += [f"pagers.{problem}" for problem in check_pagers(settings.pagers)]
        problems += _provider_choices(settings)
    if settings.deploy.backends:
        from adapters.deploy import validate as check_backends

        problems += check_backends(settings)
    if settings.metrics:
        from adapters.metrics import validate as check_metrics

        problems += check_metrics(settings.metrics)
    for key, load in CHAT_ADAPTERS.items():
        raw = getattr(settings, key)
        if raw is None:
            continue
        try:
            package = load()
        except ModuleNotFoundError as exc:
            problems.append(
                f"{key}: this adapter needs its extra: pip install 'tocsin[{key}]' "
                f"(missing module {exc.name})"
            )
            continue
        problems += [f"{key}.{problem}" for problem in package.validate(raw)]
    return problems


async def _fire_demo_alert(ingest: IngestService, clock: Clock, engine: Engine) -> str:
    event = demo_alert(clock.now())
    result = await ingest.ingest([event])
    engine.wake()
    return (
        f"{event.labels['alertname']} on {event.labels['service']} ({event.labels['env']}): "
        f"incident #{result.incident_ids[0] if result.incident_ids else '?'}"
    )


ROBOT_WINDOWS = {"dingtalk-robot": 20, "wecom-robot": 20}
"""Group robots take at most 20 messages in any minute (a DingTalk robot is blocked for ten
minutes past that; WeCom drops the excess): a hard window on top of the configured pace."""


def _limits(settings: Settings, chat: Mapping[str, ChatPlatform]) -> dict[str, Limit]:
    rates = {
        name: (p.capabilities.rate_per_second, p.capabilities.burst) for name, p in chat.items()
    }
    for name, limit in settings.outbox.rate_limits.items():
        rates[name] = (limit.rate, limit.burst)
    return {
        name: Limit(rate, burst, window=ROBOT_WINDOWS.get(name, 0), per=60.0)
        for name, (rate, burst) in rates.items()
    }
