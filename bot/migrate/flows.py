"""The import's steps end to end: read the old tool, weigh the catalog against the
configuration, print the plan, and write the file to merge; and shadow mode's comparison.
Nothing is written until everything has been read and the merged configuration validates."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from bot.errors import ConfigError
from bot.migrate.catalog import Catalog
from bot.migrate.convert import Proposal, convert
from bot.migrate.document import render
from bot.migrate.plan import plan_text
from bot.migrate.reader import ApiReader, FileReader, ImportFailed, Reader
from bot.migrate.vendor import Vendor
from bot.migrate.verify import Comparison, Held, compare
from bot.settings.loader import load_document, merge_part, parse_settings, read_yaml
from bot.settings.schema import Settings

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the old tool's JSON comes from: its API or a folder."""

    url: str | None = None
    token: str | None = None
    folder: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    """More request headers, e.g. Grafana Cloud's ``X-Grafana-URL`` for a service account."""

    def describe(self) -> str:
        return self.url or str(self.folder)

    def reader(self, vendor: Vendor) -> Reader:
        if self.folder:
            return FileReader(vendor.title, self.folder)
        url = self.url or vendor.default_url
        if not url:
            raise ImportFailed(f"{vendor.title} has no standard address: give --url")
        extra = dict(self.headers)
        if not self.token and any(k.lower() == "authorization" for k in extra):
            return ApiReader(vendor.title, url, extra)
        if not self.token:
            raise ImportFailed(
                f"{vendor.title}'s API needs a token: --token or TOCSIN_IMPORT_TOKEN"
            )
        return ApiReader(vendor.title, url, {**vendor.headers(self.token), **extra})


async def _catalog(vendor: Vendor, origin: Origin, now: datetime) -> tuple[Catalog, Reader]:
    reader = origin.reader(vendor)
    try:
        return await vendor.catalog(reader, now), reader
    except BaseException:
        await _close(reader)
        raise


async def _close(reader: Reader) -> None:
    if isinstance(reader, ApiReader):
        await reader.close()


@dataclass(frozen=True, slots=True)
class Request:
    config: Path
    out: Path
    now: datetime
    prefix: str = ""
    chats: tuple[str, ...] = ()
    replace: bool = False


async def propose(vendor: Vendor, origin: Origin, request: Request) -> Proposal:
    base = load_document(request.config, leave_out=request.out)
    previous = read_yaml(request.out) if request.out.exists() else None
    catalog, reader = await _catalog(vendor, origin, request.now)
    await _close(reader)
    return convert(
        catalog,
        vendor.title,
        base if isinstance(base, dict) else {},
        previous if isinstance(previous, dict) else None,
        now=request.now,
        prefix=request.prefix,
        chats=list(request.chats) or None,
    )


async def run_import(
    vendor: Vendor, origin: Origin, request: Request, *, apply: bool, command: str, say: Say
) -> int:
    if request.out.resolve() == request.config.resolve():
        raise ImportFailed("--out names the configuration itself: the import writes a file apart")
    proposal = await propose(vendor, origin, request)
    say(plan_text(proposal, origin.describe(), str(request.config)))
    if not apply:
        say(
            "Nothing written (--plan). Run again with --apply to write "
            f"{request.out} and include it."
        )
        return 0
    pending = [i for i in proposal.items if i.status in ("add", "change", "remove")]
    if not pending:
        say("Nothing to change.")
        return 0
    if request.out.exists() and not request.replace:
        raise ImportFailed(
            f"{request.out} exists (an earlier import?): the plan above shows what would "
            "change; run again with --replace to write over it"
        )
    text = render(proposal, source=origin.describe(), command=command, when=datetime.now(UTC))
    config_text = _included(request.config, request.out)
    _validate(request.config, request.out, proposal)
    _write(request.out, text)
    if config_text is not None:
        _write(request.config, config_text)
        say(f"Wrote {request.out}; {request.config} now includes it.")
    else:
        say(f"Wrote {request.out} (already included by {request.config}).")
    say(
        "Next: `tocsin check` the configuration, then compare with the old tool over the "
        "coming two weeks: `tocsin import verify`."
    )
    return 0


def _included(config: Path, out: Path) -> str | None:
    """The main file's new text with `out` added to its include list; None when it is
    already there. An `include:` written in flow style or elsewhere cannot be edited safely."""
    raw = read_yaml(config)
    names = raw.get("include") if isinstance(raw, dict) else None
    listed = [names] if isinstance(names, str) else names or []
    if any((config.parent / n).resolve() == out.resolve() for n in listed):
        return None
    relative = os.path.relpath(out.resolve(), config.parent.resolve())
    if names is not None:
        raise ImportFailed(
            f"{config} has its own include list: add {relative} to it by hand, then run "
            "again (nothing was written)"
        )
    text = config.read_text(encoding="utf-8")
    text += ("" if text.endswith("\n") else "\n") + f"include:\n  - {relative}\n"
    try:
        after = yaml.safe_load(text)
    except yaml.YAMLError:
        after = None
    if not isinstance(after, dict) or after.get("include") != [relative]:
        raise ImportFailed(
            f"cannot add an include: to {config} safely: add `include: [{relative}]` to it "
            "by hand, then run again (nothing was written)"
        )
    return text


def _validate(config: Path, out: Path, proposal: Proposal) -> None:
    """The configuration with the new file merged must load; otherwise nothing is written."""
    base = load_document(config, leave_out=out)
    raw = dict(base) if isinstance(base, dict) else {}
    problems = merge_part(raw, out, proposal.document(), "import", config.name)
    if problems:
        raise ConfigError(problems)
    try:
        parse_settings(raw)
    except ConfigError as exc:
        raise ConfigError(
            ["the configuration would not load with the import merged:", *exc.problems]
        ) from None


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


async def shadow(
    vendor: Vendor,
    origin: Origin,
    config: Path,
    settings: Settings,
    *,
    start: datetime,
    days: int,
    out: Path | None = None,
    prefix: str = "",
    wanted: Sequence[str] = (),
) -> tuple[list[Comparison], list[str]]:
    """Each imported schedule compared with the old tool's own on-call over [start, start +
    days); and the lines about schedules that could not be compared. The tool's people and
    schedules are named as the import into `out` named them: against the configuration
    without that file."""
    end = start + timedelta(days=days)
    catalog, reader = await _catalog(vendor, origin, start)
    try:
        document = load_document(config, leave_out=out)
        proposal = convert(
            catalog,
            vendor.title,
            document if isinstance(document, dict) else {},
            None,
            now=start,
            prefix=prefix,
        )
        results: list[Comparison] = []
        missing: list[str] = []
        for rota in catalog.schedules:
            name = proposal.schedules.get(rota.origin)
            if wanted and not {name, rota.origin, rota.name} & set(wanted):
                continue
            label = f'{vendor.title} schedule {rota.origin} "{rota.name}"'
            if name is None or name not in settings.schedules:
                why = "it was not imported" if name is None else f"no schedule {name!r} in {config}"
                missing.append(f"{label}: not compared, {why}")
                continue
            shifts = await vendor.on_call(reader, catalog, rota.origin, start, end)
            held = [Held(s.start, s.end, _who(s.person, proposal, settings)) for s in shifts]
            schedule = settings.schedules[name]
            differences = compare(schedule, held, start, end, vendor=vendor.title)
            results.append(Comparison(name, label, schedule.time_zone, start, end, differences))
    finally:
        await _close(reader)
    return results, missing


def _who(person: str, proposal: Proposal, settings: Settings) -> str:
    if person in proposal.users:
        return proposal.users[person]
    for user in settings.users:
        if user.contact.email and user.contact.email.lower() == person.lower():
            return user.id
    return f"?{person}"


def held_from_ical(text: str, settings: Settings, start: datetime, end: datetime) -> list[Held]:
    """The on-call shifts of an iCal feed (one event per shift), people matched by id, name or
    e-mail; events outside [start, end) are left out."""
    from bot.oncall.ical import parse_overrides, people_index

    try:
        events = parse_overrides(text, people_index(settings.users))
    except ValueError as exc:
        raise ImportFailed(f"the iCal feed: {exc}") from None
    return [Held(e.start, e.end, e.user) for e in events if e.end > start and e.start < end]
