"""The `tocsin` command line: run, demo, check, secret, db, audit, alert."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bot.errors import ConfigError, DatabaseNotReady
from bot.settings import Settings, load_settings
from bot.settings.safety import Review, new_secret, review

DEFAULT_DEMO_DIR = "tocsin-demo"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tocsin", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)

    run = sub.add_parser("run", help="run Tocsin with a configuration file")
    run.add_argument("--config", required=True, help="the YAML configuration")

    demo = sub.add_parser("demo", help="run the embedded demo (SQLite + web console)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument(
        "--data-dir",
        default=DEFAULT_DEMO_DIR,
        help=f"where the demo keeps its database (default ./{DEFAULT_DEMO_DIR})",
    )

    check = sub.add_parser("check", help="validate a configuration file")
    check.add_argument("--config", required=True)

    sub.add_parser("secret", help="print a fresh random secret for the configuration")

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_cmd", required=True)
    for name, text in (
        ("upgrade", "migrate to the newest schema"),
        ("current", "show the schema revision"),
    ):
        p = db_sub.add_parser(name, help=text)
        p.add_argument("--config", required=True)
    prune = db_sub.add_parser(
        "prune", help="delete what the retention settings let go (also done by the engine)"
    )
    prune.add_argument("--config", required=True)
    prune.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted; delete nothing"
    )

    audit = sub.add_parser("audit", help="the audit log")
    audit_sub = audit.add_subparsers(dest="audit_cmd", required=True)
    verify = audit_sub.add_parser("verify", help="check the keyed hash chain for tampering")
    verify.add_argument("--config", required=True)
    verify.add_argument(
        "--require-keyed",
        action="store_true",
        help="fail when no entry is keyed yet (a plain SHA-256 chain anyone can recompute)",
    )

    incident = sub.add_parser("incident", help="incidents")
    incident_sub = incident.add_subparsers(dest="incident_cmd", required=True)
    export = incident_sub.add_parser(
        "export", help="write the root-cause review draft of an incident's (or a run's) rollback"
    )
    export.add_argument("--config", required=True)
    export.add_argument("id", help="an incident number, or run:<number> for a rollback run")
    export.add_argument("--out", help="a file to write (default: standard output)")

    oncall = sub.add_parser("oncall", help="on-call schedules")
    oncall_sub = oncall.add_subparsers(dest="oncall_cmd", required=True)
    imports = oncall_sub.add_parser(
        "import", help="add overrides to a schedule from the events of an .ics file"
    )
    imports.add_argument("--config", required=True)
    imports.add_argument("--schedule", required=True)
    imports.add_argument("file", help="an iCalendar file; each event puts its person on call")

    alert = sub.add_parser("alert", help="alerts")
    alert_sub = alert.add_subparsers(dest="alert_cmd", required=True)
    fire = alert_sub.add_parser("fire", help="send an alert to a running Tocsin")
    fire.add_argument("--demo", action="store_true", help="a realistic demo alert")
    fire.add_argument("--url", default="http://127.0.0.1:8080/api/v1/alerts/generic")
    fire.add_argument("--token", help="bearer token (default: the demo's, from --data-dir)")
    fire.add_argument("--data-dir", default=DEFAULT_DEMO_DIR)
    fire.add_argument("--file", help="a JSON file in the generic alert format")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print("The configuration has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except DatabaseNotReady as exc:
        print(f"Tocsin cannot start: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
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
        text = asyncio.run(_export(load_settings(args.config), args.id))
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


async def _export(settings: Settings, wanted: str) -> str | None:
    from sqlalchemy import select

    from bot.store.db import Database
    from bot.store.tables import rca_drafts

    kind, _, number = wanted.partition(":")
    column = rca_drafts.c.run_id if kind == "run" else rca_drafts.c.incident_id
    value = number if kind == "run" else kind
    if not value.isdigit():
        return None
    db = Database(settings.database.url)
    try:
        async with db.connect() as conn:
            stmt = select(rca_drafts.c.markdown).where(column == int(value))
            found = await conn.execute(stmt.order_by(rca_drafts.c.created_at.desc()).limit(1))
            markdown = found.scalar()
    finally:
        await db.dispose()
    return str(markdown) if markdown is not None else None


async def _import_overrides(settings: Settings, args: argparse.Namespace, text: str) -> int:
    """Overrides from an .ics file: each event's person (by name, e-mail or id) is on call."""
    from bot.clock import SystemClock
    from bot.oncall.ical import parse_overrides
    from bot.oncall.store import add_override
    from bot.store.db import Database

    if args.schedule not in settings.schedules:
        print(f"no schedule {args.schedule!r} in the configuration", file=sys.stderr)
        return 2
    users: dict[str, str] = {}
    for user in settings.users:
        for key in (user.id, user.name, user.contact.email):
            if key:
                users[key.lower()] = user.id
    try:
        found = parse_overrides(text, users)
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
