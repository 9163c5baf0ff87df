"""A fake ``helm`` (Helm 3) for the tests: `fake_helm.FakeHelm` copies it into tmp_path with a
shebang for this Python.

Its releases live in ``helm-state.json`` next to it (one JSON file, rewritten atomically under a
lock), so a background ``upgrade`` and the ``status`` / ``history`` queries see one another. It
answers ``upgrade [--install]``, ``rollback``, ``status -o json``, ``history -o json`` and ``get
values --revision N -o json`` with Helm 3's records, statuses (``pending-upgrade`` while it runs,
``deployed``, ``superseded``, ``failed``), descriptions and error lines, and it appends each call
(arguments and environment variable names) to the state. The state also scripts trouble:
``hang`` (wait while true), ``fail`` (the upgrade's or rollback's error), ``unreachable`` (every
command fails as with a cluster that does not answer), ``ignore_term`` (only SIGKILL stops it).
On SIGTERM it does what helm does: prints "Release X has been cancelled." and marks the pending
revision failed with "context canceled".
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
STATE = HERE / "helm-state.json"
LOCK = HERE / "helm-state.lock"
VALUE_FLAGS = {
    "-n", "--namespace", "--kubeconfig", "--kube-context", "--set", "--set-string", "--timeout",
    "--history-max", "--version", "-f", "--values", "--description", "-o", "--output",
    "--revision", "--max",
}  # fmt: skip
UNREACHABLE = (
    'Error: Kubernetes cluster unreachable: Get "https://10.0.0.1:6443/version": '
    "dial tcp 10.0.0.1:6443: connect: connection refused"
)


@contextlib.contextmanager
def locked() -> Any:
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(STATE.read_text())
        yield state
        temp = STATE.with_suffix(".tmp")
        temp.write_text(json.dumps(state, indent=1))
        os.replace(temp, STATE)


def read() -> dict[str, Any]:
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        return dict(json.loads(STATE.read_text()))


def parse(argv: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    positional: list[str] = []
    flags: dict[str, list[str]] = {}
    items = iter(argv)
    for arg in items:
        if arg.startswith("-") and "=" in arg:
            name, _, value = arg.partition("=")
            flags.setdefault(name, []).append(value)
        elif arg in VALUE_FLAGS:
            flags.setdefault(arg, []).append(next(items, ""))
        elif arg.startswith("-"):
            flags.setdefault(arg, []).append("true")
        else:
            positional.append(arg)
    return positional, flags


def one(flags: dict[str, list[str]], *names: str, default: str = "") -> str:
    for name in names:
        if name in flags:
            return flags[name][-1]
    return default


def fail(message: str, code: int = 1) -> None:
    print(message, file=sys.stderr, flush=True)
    sys.exit(code)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime())


def entry(rev: dict[str, Any]) -> dict[str, Any]:
    keys = ("revision", "updated", "status", "chart", "app_version", "description")
    return {key: rev[key] for key in keys}


def set_value(values: dict[str, Any], key: str, value: str) -> None:
    *parents, last = key.split(".")
    node = values
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def main() -> None:
    positional, flags = parse(sys.argv[1:])
    with locked() as state:
        state["calls"].append({"argv": sys.argv[1:], "env": sorted(os.environ), "pid": os.getpid()})
        unreachable = state.get("unreachable", False)
    if unreachable:
        fail(UNREACHABLE)
    command = positional[0] if positional else ""
    namespace = one(flags, "-n", "--namespace", default="default")
    if command in ("status", "history"):
        query(command, positional[1], namespace, flags)
    elif command == "get" and positional[1:2] == ["values"]:
        get_values(positional[2], namespace, flags)
    elif command == "upgrade":
        upgrade(positional[1], positional[2], namespace, flags)
    elif command == "rollback":
        rollback(positional[1], int(positional[2]), namespace, flags)
    else:
        fail(f'Error: unknown command "{command}" for "helm"')


def query(command: str, name: str, namespace: str, flags: dict[str, list[str]]) -> None:
    state = read()
    time.sleep(float(state.get("slow_queries", 0)))
    revisions = state["releases"].get(f"{namespace}/{name}")
    if not revisions:
        fail("Error: release: not found")
    if one(flags, "-o", "--output") != "json":
        fail("fake helm: only -o json is implemented")
    if command == "history":
        print(json.dumps([entry(rev) for rev in revisions]))
        return
    rev = revisions[-1]
    print(
        json.dumps(
            {
                "name": name,
                "info": {
                    "first_deployed": revisions[0]["updated"],
                    "last_deployed": rev["updated"],
                    "deleted": "",
                    "description": rev["description"],
                    "status": rev["status"],
                    "notes": f"{name} is running.",
                },
                "chart": {"metadata": {"name": name, "appVersion": rev["app_version"]}},
                "config": rev["values"],
                "manifest": f"---\n# Source: {name}/templates/deployment.yaml\n",
                "version": rev["revision"],
                "namespace": namespace,
            }
        )
    )


def get_values(name: str, namespace: str, flags: dict[str, list[str]]) -> None:
    revisions = read()["releases"].get(f"{namespace}/{name}", [])
    wanted = int(one(flags, "--revision", default="0")) or (
        revisions[-1]["revision"] if revisions else 0
    )
    found = [rev for rev in revisions if rev["revision"] == wanted]
    if not found:
        fail("Error: release: not found")
    print(json.dumps(found[0]["values"] or None))


def begin(key: str, record: dict[str, Any], flags: dict[str, list[str]]) -> int:
    """Record the pending revision; the new revision's number. SIGTERM waits until
    `wait_while_held` has its handler in place (helm listens for it from its start), so a stop
    that comes right after the record still marks the revision failed."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    with locked() as state:
        revisions = state["releases"].setdefault(key, [])
        if revisions and revisions[-1]["status"].startswith("pending-"):
            fail(
                "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress"
            )
        record["revision"] = revisions[-1]["revision"] + 1 if revisions else 1
        record["updated"] = now()
        revisions.append(record)
        return int(record["revision"])


def finish(
    key: str, revision: int, status: str, description: str, flags: dict[str, list[str]]
) -> None:
    with locked() as state:
        revisions = state["releases"][key]
        for rev in revisions:
            if rev["revision"] == revision:
                rev.update(status=status, description=description)
            elif status == "deployed" and rev["status"] == "deployed":
                rev["status"] = "superseded"
        keep = int(one(flags, "--history-max", default="10"))
        if keep:
            del revisions[: max(0, len(revisions) - keep)]


def wait_while_held(key: str, revision: int, name: str) -> None:
    def cancelled(signum: int, frame: Any) -> None:
        print(f"Release {name} has been cancelled.", flush=True)
        action = (
            "Upgrade" if read()["releases"][key][-1]["status"] != "pending-rollback" else "Rollback"
        )
        finish(key, revision, "failed", f'{action} "{name}" failed: context canceled', {})
        sys.exit(1)

    ignore = read().get("ignore_term", False)
    signal.signal(signal.SIGTERM, signal.SIG_IGN if ignore else cancelled)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    for _ in range(1500):  # at most about 30 s
        if not read().get("hang"):
            return
        time.sleep(0.02)


def upgrade(name: str, chart_ref: str, namespace: str, flags: dict[str, list[str]]) -> None:
    state = read()
    chart = state["charts"].get(chart_ref)
    if chart is None:
        fail(f"Error: repo {chart_ref.split('/')[0]} not found")
    wanted = one(flags, "--version")
    if wanted and wanted != chart["version"]:
        fail(f'Error: chart "{chart["name"]}" matching {wanted} not found in {chart_ref} index')
    values: dict[str, Any] = {}
    for path in flags.get("-f", []) + flags.get("--values", []):
        try:
            values.update(yaml.safe_load(Path(path).read_text()) or {})
        except OSError:
            fail(f"Error: open {path}: no such file or directory")
    for item in flags.get("--set", []) + flags.get("--set-string", []):
        key, _, value = item.partition("=")
        set_value(values, key, value)
    key = f"{namespace}/{name}"
    exists = bool(state["releases"].get(key))
    if not exists and "--install" not in flags:
        fail(f'Error: UPGRADE FAILED: "{name}" has no deployed releases')
    if not exists:
        print(f'Release "{name}" does not exist. Installing it now.', flush=True)
    if one(flags, "--dry-run") not in ("", "false"):
        print(
            f'Release "{name}" has been upgraded. Happy Helming!\n'
            f"NAME: {name}\nSTATUS: pending-upgrade"
        )
        print(f"HOOKS:\nMANIFEST:\n---\n# Source: {name}/templates/deployment.yaml")
        return
    description = one(flags, "--description")
    record = {
        "status": "pending-upgrade" if exists else "pending-install",
        "chart": f"{chart['name']}-{chart['version']}",
        "app_version": chart["appVersion"],
        "description": description
        or ("Preparing upgrade" if exists else "Initial install underway"),
        "values": values,
    }
    revision = begin(key, record, flags)
    wait_while_held(key, revision, name)
    error = read().get("fail")
    if error:
        verb = "Upgrade" if exists else "Release"
        finish(key, revision, "failed", f'{verb} "{name}" failed: {error}', flags)
        if "--atomic" in flags and exists:
            previous = [
                r
                for r in read()["releases"][key]
                if r["status"] == "superseded" or r["status"] == "deployed"
            ]
            target = previous[-1]
            again = {
                **{k: target[k] for k in ("chart", "app_version", "values")},
                "status": "pending-rollback",
                "description": "Preparing rollback",
            }
            back = begin(key, again, flags)
            finish(key, back, "deployed", f"Rollback to {target['revision']}", flags)
            fail(
                f"Error: UPGRADE FAILED: release {name} failed, and has been rolled back "
                f"due to atomic being set: {error}"
            )
        fail(f"Error: UPGRADE FAILED: {error}")
    done = "Upgrade complete" if exists else "Install complete"
    finish(key, revision, "deployed", description or done, flags)
    print(f'Release "{name}" has been upgraded. Happy Helming!')
    print(f"NAME: {name}\nLAST DEPLOYED: {now()}\nNAMESPACE: {namespace}\nSTATUS: deployed")
    print(f"REVISION: {revision}\nTEST SUITE: None")


def rollback(name: str, to: int, namespace: str, flags: dict[str, list[str]]) -> None:
    key = f"{namespace}/{name}"
    revisions = read()["releases"].get(key, [])
    found = [rev for rev in revisions if rev["revision"] == to]
    if not found:
        fail(f"Error: release has no {to} version")
    if "--dry-run" in flags:
        print("Rollback was a success! Happy Helming!")
        return
    record = {
        **{k: found[0][k] for k in ("chart", "app_version", "values")},
        "status": "pending-rollback",
        "description": "Preparing rollback",
    }
    revision = begin(key, record, flags)
    wait_while_held(key, revision, name)
    error = read().get("fail")
    if error:
        finish(key, revision, "failed", f'Rollback "{name}" failed: {error}', flags)
        fail(f"Error: release {name} failed: {error}")
    finish(key, revision, "deployed", f"Rollback to {to}", flags)
    print("Rollback was a success! Happy Helming!")


if __name__ == "__main__":
    main()
