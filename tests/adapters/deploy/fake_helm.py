"""Installs the fake ``helm`` (``helm_fake/helm.py``) into a test's tmp_path and lets the test read
and script its state: releases, charts, calls, and trouble (hang, fail, unreachable…)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).parent / "helm_fake" / "helm.py"
CHART = "shop/orders"


def revision(number: int, tag: str, status: str, description: str) -> dict[str, Any]:
    return {
        "revision": number,
        "updated": f"2026-01-0{number}T03:00:00.000000+00:00",
        "status": status,
        "chart": "orders-0.3.0",
        "app_version": "1.16.0",
        "description": description,
        "values": {"image": {"tag": tag}, "replicaCount": 3},
    }


@dataclass
class FakeHelm:
    home: Path

    @classmethod
    def install(cls, where: Path) -> FakeHelm:
        """The fake in `where`, with release ``shop/orders`` at revisions 1 (1.4.0), 2 (1.4.1,
        deployed) and chart ``shop/orders`` 0.3.0."""
        home = where / "helm-bin"
        home.mkdir()
        binary = home / "helm"
        binary.write_text(f"#!{sys.executable}\n" + SCRIPT.read_text())
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
        (home / "helm-state.lock").touch()
        fake = cls(home)
        fake.write(
            {
                "releases": {
                    "shop/orders": [
                        revision(1, "1.4.0", "superseded", "Install complete"),
                        revision(2, "1.4.1", "deployed", "Upgrade complete"),
                    ]
                },
                "charts": {CHART: {"name": "orders", "version": "0.3.0", "appVersion": "1.16.0"}},
                "calls": [],
            }
        )
        return fake

    @property
    def binary(self) -> str:
        return str(self.home / "helm")

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "helm-state.json").read_text()))

    def write(self, state: dict[str, Any]) -> None:
        with open(self.home / "helm-state.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._replace(state)

    def update(self, **changes: Any) -> None:
        """Change the state under the fake's lock (a running fake helm writes it too)."""
        with open(self.home / "helm-state.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._replace({**self.state(), **changes})

    def _replace(self, state: dict[str, Any]) -> None:
        temp = self.home / "helm-state.tmp-test"
        temp.write_text(json.dumps(state, indent=1))
        os.replace(temp, self.home / "helm-state.json")

    def history(self, release: str = "orders", namespace: str = "shop") -> list[dict[str, Any]]:
        return list(self.state()["releases"].get(f"{namespace}/{release}", []))

    def calls(self, command: str | None = None) -> list[list[str]]:
        argvs = [call["argv"] for call in self.state()["calls"]]
        return [a for a in argvs if command is None or a[:1] == [command]]

    def envs(self) -> list[list[str]]:
        return [call["env"] for call in self.state()["calls"]]

    def stop_all(self) -> None:
        """Let every fake helm finish, and kill any left (end of a test)."""
        self.update(hang=False, ignore_term=False)
        for call in self.state()["calls"]:
            with contextlib.suppress(OSError):
                if self.binary in Path(f"/proc/{call['pid']}/cmdline").read_text():
                    os.killpg(call["pid"], signal.SIGKILL)
