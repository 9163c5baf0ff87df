"""What the import tests share: a Tocsin configuration to import into, and the `tocsin` command
run in a thread (so a fake API served by the test's own event loop can answer it)."""

from __future__ import annotations

import asyncio
import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.cli import main
from bot.settings import Settings
from tests.support import base_config

ZONE = "America/New_York"
AS_OF = "2027-03-07T12:00:00+00:00"
"""The import's "now" in the shared story: overrides after it are still to come."""
SHADOW_START = "2027-03-08T00:00:00-05:00"
"""The verification's first hour: Monday 8 March 2027, midnight in New York; the clocks
there go forward on Sunday 14 March, inside the 14 days compared."""


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


async def cli(*argv: str) -> Result:
    """`tocsin ARGV…`, its exit status and what it printed."""

    def run() -> Result:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
        return Result(code, out.getvalue(), err.getvalue())

    return await asyncio.to_thread(run)


def tocsin_config(folder: Path, **overrides: Any) -> Path:
    """A valid tocsin.yaml in `folder` whose users alice and bob have the e-mail addresses
    alice@example.com and bob@example.com (carol has none); `default_route` posts to
    fake:ops. Keys in `overrides` replace the top-level sections."""
    config = base_config(**overrides)
    if "users" not in overrides:
        for user in config["users"]:
            if user["id"] in ("alice", "bob"):
                user["contact"] = {"email": f"{user['id']}@example.com"}
    config.setdefault("default_route", {"destinations": ["fake:ops"]})
    path = folder / "tocsin.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def imported_schedules(document: dict[str, Any]) -> dict[str, str]:
    """The story's two schedules' Tocsin names in an import file, by their names in the tool."""
    names = {}
    for key in document.get("schedules", {}):
        names["Primary" if "primary" in key else "Follow the sun"] = key
    return names


def user_by_email(settings: Settings, email: str) -> str:
    return next(u.id for u in settings.users if u.contact.email == email)
