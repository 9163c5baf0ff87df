"""The `tocsin` command line: run, demo, check, secret, db, audit, incident, oncall, import,
report, alert."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import orjson

from bot.errors import ConfigError, DatabaseNotReady
from bot.migrate.cli import add_parsers
from bot.migrate.cli import dispatch as migrate
from bot.reports.cli import add_parser as add_report_parser
from bot.reports.cli import dispatch as report
from bot.settings import Settings, load_settings
from bot.settings.safety import Review, new_secret, review

DEFAULT_DEMO_DIR = "tocsin-demo"


EPILOG = """\
examples:
  tocsin demo                                  try it: SQLite and the web console on :8080
  tocsin check config/tocsin.yaml              name every problem in a configuration
  tocsin db upgrade --config tocsin.yaml       create or migrate the database schema
  tocsin run --config tocsin.yaml              run for real
  tocsin audit verify --config tocsin.yaml     check the audit log for tampering
  tocsin alert fire --demo                     send the demo a realistic alert
  tocsin import pagerduty --config tocsin.yaml --plan
                                               move in from PagerDuty (or opsgenie, oncall)

exit status: 0 done, 1 failed while running, 2 wrong usage or configuration,
3 the database schema is missing or behind (run 'tocsin db upgrade').
'tocsin COMMAND --help' explains a command and its options."""

CONFIG_HELP = "the YAML configuration file (see config/example.yaml)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tocsin",
        description="Tocsin: chat-ops for release safety and on-call.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version()}", help="print the version"
    )
    parser.add_argument(
        "--traceback",
        action="store_true",
        help="on an unexpected error, print the full Python traceback",
    )
    sub = parser.add_subparsers(dest="cmd", required=True, title="commands", metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run Tocsin with a configuration file", description="Run Tocsin for real."
    )
    run.add_argument("--config", required=True, help=CONFIG_HELP)

    demo = sub.add_parser(
        "demo",
        help="run the embedded demo (SQLite + web console)",
        description="Run the demo: SQLite, the web console, three people and three services.",
    )
    demo.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    demo.add_argument(
        "--port", type=int, default=8080, help="port to listen on (default %(default)s)"
    )
    demo.add_argument(
        "--data-dir",
        default=DEFAULT_DEMO_DIR,
        help=f"where the demo keeps its database (default ./{DEFAULT_DEMO_DIR})",
    )

    check = sub.add_parser(
        "check",
        help="validate a configuration file",
        description="Validate a configuration: every problem is named with its key path.",
        epilog="example: tocsin check config/tocsin.yaml",
    )
    check.add_argument("file", nargs="?", help=CONFIG_HELP)
    check.add_argument("--config", help="the same, given as an option")

    sub.add_parser(
        "secret",
        help="print a fresh random secret for the configuration",
        description="Print a fresh random secret, e.g. for TOCSIN_SECRET_KEY.",
    )

    db = sub.add_parser("db", help="database schema: upgrade, current, prune")
    db_sub = db.add_subparsers(dest="db_cmd", required=True, title="commands", metavar="COMMAND")
    for name, text in (
        ("upgrade", "migrate to the newest schema (creates it on an empty database)"),
        ("current", "show the schema revision"),
    ):
        p = db_sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("--config", required=True, help=CONFIG_HELP)
    prune = db_sub.add_parser(
        "prune", help="delete what the retention settings let go (also done by the engine)"
    )
    prune.add_argument("--config", required=True, help=CONFIG_HELP)
    prune.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted; delete nothing"
    )

    audit = sub.add_parser("audit", help="the audit log: verify")
    audit_sub = audit.add_subparsers(
        dest="audit_cmd", required=True, title="commands", metavar="COMMAND"
    )
    verify = audit_sub.add_parser("verify", help="check the keyed hash chain for tampering")
    verify.add_argument("--config", required=True, help=CONFIG_HELP)
    verify.add_argument(
        "--require-keyed",
        action="store_true",
        help="fail when no entry is keyed yet (a plain SHA-256 chain anyone can recompute)",
    )

    incident = sub.add_parser("incident", help="incidents: export a rollback review")
    incident_sub = incident.add_subparsers(dest="incident_cmd", required=True)
    export = incident_sub.add_parser(
        "export", help="write the review of an incident's (or a run's) rollback"
    )
    export.add_argument("--config", required=True)
    export.add_argument("id", help="an incident number, or run:<number> for a rollback run")
    export.add_argument("--out", help="a file to write (default: standard output)")
    export.add_argument(
        "--format", choices=("md", "text"), default="md", help="Markdown (default) or plain text"
    )
    export.add_argument(
        "--lang", choices=("en", "zh"), help="the language (default: tocsin.language)"
    )

    oncall = sub.add_parser("oncall", help="on-call schedules: import overrides, export")
    oncall_sub = oncall.add_subparsers(
        dest="oncall_cmd", required=True, title="commands", metavar="COMMAND"
    )
    imports = oncall_sub.add_parser(
        "import", help="add overrides to a schedule from the events of an .ics file"
    )
    imports.add_argument("--config", required=True, help=CONFIG_HELP)
    imports.add_argument(
        "--schedule", required=True, help="the schedule's name in the configuration"
    )
    imports.add_argument("file", help="an iCalendar file; each event puts its person on call")
    add_parsers(sub, oncall_sub)
    add_report_parser(sub, CONFIG_HELP)

    alert = sub.add_parser("alert", help="alerts: fire a test alert")
    alert_sub = alert.add_subparsers(
        dest="alert_cmd", required=True, title="commands", metavar="COMMAND"
    )
    fire = alert_sub.add_parser("fire", help="send an alert to a running Tocsin")
    fire.add_argument("--demo", action="store_true", help="a realistic demo alert")
    fire.add_argument(
        "--url",
        default="http://127.0.0.1:8080/api/v1/alerts/generic",
        help="Tocsin's generic alert endpoint (default %(default)s)",
    )
    fire.add_argument("--token", help="bearer token (default: the demo's, from --data-dir)")
    fire.add_argument(
        "--data-dir",
        default=DEFAULT_DEMO_DIR,
        help="the demo's data folder, where its token is (default ./%(default)s)",
    )
    fire.add_argument("--file", help="a JSON file in the generic alert format")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; problems are told in a line or two, never with a traceback (unless
    ``--traceback``), with the exit status the epilog gives."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.cmd == "check":
        args.config = args.config or args.file
        if not args.config:
            parser.error("check needs a configuration file, e.g. tocsin check config/tocsin.yaml")
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print("The configuration has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except DatabaseNotReady as exc:
        config = getattr(args, "config", None) or "FILE"
        print(f"tocsin: {str(exc).replace('--config FILE', f'--config {config}')}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.traceback:
            raise
        code, text = _explain(exc, args)
        print(f"tocsin: {text}", file=sys.stderr)
        return code


def _explain(exc: Exception, args: argparse.Namespace) -> tuple[int, str]:
    """An error no command handled, as an exit status and one line."""
    from bot.store.outage import classify

    config = getattr(args, "config", None)
    if config and _missing_table(exc):
        return 3, _not_migrated(config)
    if config and (down := classify(exc)) is not None:
        url = _database_url(config)
        return 1, f"cannot reach the database {url}: {down}"
    return 1, f"unexpected error: {type(exc).__name__}: {exc} (--traceback shows where)"


def _missing_table(exc: BaseException) -> bool:
    text = str(exc).lower()
    return (
        "no such table" in text
        or "undefinedtable" in text.replace(" ", "")
        or ("relation" in text and "does not exist" in text)
    )


def _not_migrated(config: str) -> str:
    return (
        "the database has no Tocsin tables yet (or is behind): "
        f"run `tocsin db upgrade --config {config}`"
    )


def _database_url(config: str) -> str:
    """The configured database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        url = load_settings(config).database.url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # the URL is only there to help; never fail for it
        return "(see database.url)"


def version() -> str:
    """The installed package's version, else the source tree's (pyproject.toml)."""
    try:
        return metadata.version("tocsin")
    except metadata.PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


_READS_DATABASE = frozenset({"audit", "incident", "oncall", "report"})
"""Commands that read Tocsin's tables: they first check the schema is there and current."""


async def _require_schema(settings: Settings, config: str) -> None:
    from bot.store.db import Database
    from bot.store.migrate import current_revision, head_revision

    db = Database(settings.database.url)
    try:
        current = await current_revision(db)
    finally:
        await db.dispose()
    if current != head_revision():
        raise DatabaseNotReady(_not_migrated(config))


def _dispatch(args: argparse.Namespace) -> int:
    if args.cmd in _READS_DATABASE and getattr(args, "oncall_cmd", None) != "export":
        asyncio.run(_require_schema(load_settings(args.config), args.config))
    if args.cmd == "check":
        from bot.bootstrap import check_adapters

        settings = load_settings(args.config)
        safety = _safety(settings)
        problems = [*check_adapters(settings), *safety.problems]
        if problems:
            raise ConfigError(problems)
        print(
            f"{args.config}: OK ({len(settings.sources)} sources, {len(settings.routes)} "
            f"routes, {len(settings.users)} users)"
        )
        return 0
    if args.cmd == "run":
        settings = load_settings(args.config)
        unsafe = _safety(settings).problems
        if unsafe:
            print("Tocsin will not start: unsafe settings (outside demo mode).", file=sys.stderr)
            raise ConfigError(list(unsafe))
        return _serve(settings, config_path=args.config)
    if args.cmd == "secret":
        print(new_secret())
        print(
            "Put it in the environment a key reads, e.g. TOCSIN_SECRET_KEY for tocsin.secret_key "
            "(config/example.yaml names one for every secret); use a fresh value for each "
            "secret: a source's bearer_token or hmac_secret, each console token.",
            file=sys.stderr,
        )
        return 0
    if args.cmd == "demo":
        return _demo(args)
    if args.cmd == "db" and args.db_cmd == "prune":
        return asyncio.run(_prune(load_settings(args.config), dry_run=args.dry_run))
    if args.cmd == "db":
        return asyncio.run(_db(args.db_cmd, load_settings(args.config)))
    if args.cmd == "audit":
        return asyncio.run(_audit(load_settings(args.config), args.require_keyed))
    if args.cmd == "incident":
        text = asyncio.run(_export(load_settings(args.config), args.id, args.format, args.lang))
        if text is None:
            print(
                f"no review draft for {args.id} (it is written when a rollback ends)",
                file=sys.stderr,
            )
            return 1
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
        else:
            print(text)
        return 0
    if args.cmd == "report":
        return report(args)
    if args.cmd == "import" or (args.cmd == "oncall" and args.oncall_cmd == "export"):
        return migrate(args)
    if args.cmd == "oncall":
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except OSError as exc:
            print(f"{args.file}: {exc}", file=sys.stderr)
            return 2
        return asyncio.run(_import_overrides(load_settings(args.config), args, text))
    return _fire(args)


def _safety(settings: Settings) -> Review:
    """Review the settings for running for real; warnings go to standard error at once."""
    found = review(settings)
    for warning in found.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return found


def _serve(settings: Settings, banner: str = "", config_path: str | None = None) -> int:
    import uvicorn

    from bot.bootstrap import bootstrap
    from bot.logs import configure, tune_gc

    configure(settings.tocsin.log_format)
    tocsin = bootstrap(settings)
    asyncio.run(_precheck(tocsin))
    tune_gc()
    if banner:
        print(banner, flush=True)
    options: dict[str, Any] = {
        "host": settings.server.host,
        "port": settings.server.port,
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": False,
        "lifespan": "on",
        "loop": "uvloop" if _has("uvloop") else "asyncio",
        "http": "httptools" if _has("httptools") else "h11",
    }
    workers = settings.server_workers()
    if workers > 1 and config_path:
        # Each worker process builds its own Tocsin from the same file.
        os.environ["TOCSIN_CONFIG"] = str(Path(config_path).resolve())
        uvicorn.run("bot.asgi:create_app", factory=True, workers=workers, **options)
        return 0
    uvicorn.Server(uvicorn.Config(tocsin.app, **options)).run()
    return 0


async def _precheck(tocsin: Any) -> None:
    """Refuse to start (with the reason) before binding the port."""
    from bot.store.migrate import ensure_current

    try:
        await ensure_current(tocsin.services.db, auto_migrate=tocsin.settings.database.auto_migrate)
    finally:
        await tocsin.services.db.dispose()


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import demo_settings, demo_token

    data_dir = Path(args.data_dir).resolve()
    settings = demo_settings(data_dir, args.host, args.port)
    base = f"http://{args.host}:{args.port}"
    banner = "\n".join(
        [
            "",
            "Tocsin demo is starting.",
            f"  Web console:      {base}/console",
            f"  Alert webhook:    {base}/api/v1/alerts/alertmanager  (also /grafana, /generic)",
            f"  Webhook token:    {demo_token(data_dir)}  (header: Authorization: Bearer <token>)",
            f"  Fire an alert:    tocsin alert fire --demo --data-dir {args.data_dir}",
            f"  Data folder:      {data_dir}",
            "Press Ctrl+C to stop.",
            "",
        ]
    )
    return _serve(settings, banner)


async def _db(command: str, settings: Settings) -> int:
    from bot.store.db import Database
    from bot.store.migrate import current_revision, head_revision, upgrade

    db = Database(settings.database.url)
    try:
        if command == "upgrade":
            await upgrade(db)
        revision = await current_revision(db)
        state = "current" if revision == head_revision() else f"behind (head {head_revision()})"
        print(f"schema revision: {revision or 'none'} ({state})")
    finally:
        await db.dispose()
    return 0


async def _prune(settings: Settings, *, dry_run: bool) -> int:
    from bot.audit import AuditKeys, use_keys
    from bot.clock import SystemClock
    from bot.retention import prune
    from bot.store.db import Database
    from bot.store.migrate import ensure_current

    db = Database(settings.database.url)
    use_keys(db, AuditKeys.from_settings(settings))
    try:
        await ensure_current(db, auto_migrate=False)
        report = await prune(db, settings, SystemClock().now(), dry_run=dry_run)
    finally:
        await db.dispose()
    print("\n".join(report.lines()))
    return 1 if report.problems else 0


async def _audit(settings: Settings, require_keyed: bool = False) -> int:
    from bot.audit import AuditKeys, verify
    from bot.store.db import Database

    db = Database(settings.database.url)
    try:
        keys = AuditKeys.from_settings(settings)
        result = await verify(db, keys, require_keyed=require_keyed)
    finally:
        await db.dispose()
    if not result.ok:
        print(
            f"audit log TAMPERED after {result.rows} good rows: {result.problem}", file=sys.stderr
        )
        return 1
    pruned = f" (rows 1-{result.pruned_to} pruned)" if result.pruned_to else ""
    keyed = result.rows - result.legacy_rows
    print(f"audit log intact: {result.rows} rows{pruned}")
    if keyed:
        print(f"  {keyed} keyed (key ids {', '.join(result.key_ids)}; current {keys.current.id})")
    if result.legacy_rows:
        print(f"  {result.legacy_rows} legacy rows (plain SHA-256, written before the audit key)")
    if result.rows and not keyed:
        print(
            "warning: no entry is keyed yet; anyone with write access to the database can "
            "recompute a plain SHA-256 chain (--require-keyed makes this an error)",
            file=sys.stderr,
        )
    return 0


async def _export(
    settings: Settings, wanted: str, fmt: str = "md", lang: str | None = None
) -> str | None:
    """The review of rollback run ``run:<n>`` or of incident ``<n>``'s latest rollback, as
    ``md`` or ``text`` in `lang` (default: the configured language); None when there is none."""
    from bot.reviews import find
    from bot.store.db import Database

    kind, _, number = wanted.partition(":")
    value = number if kind == "run" else kind
    if not (value.isascii() and value.isdigit()):
        return None
    db = Database(settings.database.url)
    try:
        async with db.connect() as conn:
            if kind == "run":
                stored = await find(conn, run_id=int(value))
            else:
                stored = await find(conn, incident_id=int(value))
    finally:
        await db.dispose()
    if stored is None:
        return None
    return stored.document(fmt, lang or settings.tocsin.language)


async def _import_overrides(settings: Settings, args: argparse.Namespace, text: str) -> int:
    """Overrides from an .ics file: each event's person (by name, e-mail or id) is on call."""
    from bot.clock import SystemClock
    from bot.oncall.ical import parse_overrides, people_index
    from bot.oncall.store import add_override
    from bot.store.db import Database

    if args.schedule not in settings.schedules:
        print(f"no schedule {args.schedule!r} in the configuration", file=sys.stderr)
        return 2
    try:
        found = parse_overrides(text, people_index(settings.users))
    except ValueError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    now = SystemClock().now()
    db = Database(settings.database.url)
    try:
        async with db.begin() as conn:
            for override in found:
                await add_override(
                    conn,
                    args.schedule,
                    override.user,
                    override.start,
                    override.end,
                    by="import",
                    reason=f"{Path(args.file).name}: {override.reason}",
                    now=now,
                )
    finally:
        await db.dispose()
    print(f"{len(found)} overrides added to {args.schedule}")
    return 0


def _fire(args: argparse.Namespace) -> int:
    from bot.demo import demo_alert_json

    if args.file:
        body = Path(args.file).read_bytes()
    elif args.demo:
        body = orjson.dumps(demo_alert_json())
    else:
        print("give --demo or --file FILE", file=sys.stderr)
        return 2
    token = args.token
    if token is None:
        token_file = Path(args.data_dir) / "demo-token"
        if not token_file.exists():
            print(
                f"no --token given and no demo token in {token_file}; start 'tocsin demo' "
                "first or pass --token",
                file=sys.stderr,
            )
            return 2
        token = token_file.read_text().strip()
    started = time.perf_counter()
    try:
        response = httpx.post(
            args.url,
            content=body,
            timeout=10,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    except httpx.HTTPError as exc:
        print(f"could not reach Tocsin at {args.url}: {exc}", file=sys.stderr)
        return 1
    elapsed = (time.perf_counter() - started) * 1000
    print(f"{response.status_code} in {elapsed:.0f} ms: {response.text}")
    return 0 if response.is_success else 1


if __name__ == "__main__":
    sys.exit(main())
