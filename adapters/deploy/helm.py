"""Helm: ``helm upgrade --install`` with the version in a value, native ``helm rollback``, and
the result read back from Helm's own release records.

- start (deploy): ``helm upgrade --install REL CHART --set-string <values_key>=<version> --wait
  --timeout T --history-max N --description "Tocsin <run>: …" [--atomic] [--version V] [-f …]
  [--dry-run=server]`` in the background. ``--set-string`` keeps a tag such as ``1.10`` a string
  (``--set`` would make it the number 1.1). The description marks the revision as this run's, so
  a second start of the run (even after a restart) does not upgrade again.
- start (rollback): the newest deployed or superseded revision that ran the target version (by
  the value at `values_key`, else the app or chart version) → ``helm rollback REL REV --wait
  --timeout T --cleanup-on-fail``; none → an upgrade to the target version, and the message says so.
- status: while helm runs → running, with its last output lines; then ``helm status`` and
  ``helm history`` decide (`helm_release.judge`). After a restart there is no process handle:
  pending-* is running until helm's own timeout has passed, a new deployed revision succeeded.
- cancel: SIGTERM to helm's process group (Helm marks the release failed), SIGKILL after
  `cancel_grace` (the release stays pending-*; the status says how to recover).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adapters.deploy import helm_release as records
from adapters.deploy.helm_cli import Background, Helm, remove, running_command, stop_group, tail
from adapters.deploy.helm_settings import VERSION, HelmSettings, HelmTarget
from adapters.deploy.settings_common import entry_points, parse_target
from bot.clock import Clock
from bot.errors import PermanentDelivery
from bot.ports import BackendCapabilities, DeployRequest, Phase, RunRef, RunStatus
from bot.settings.durations import format_duration

GRACE = timedelta(minutes=1)
"""Past helm's own ``--timeout`` plus this, a helm process is taken to be gone."""


@dataclass
class _Run:
    ref: RunRef
    process: Background | None
    cancelled: bool = False
    final: RunStatus | None = None


class HelmBackend:
    kind = "helm"
    capabilities = BackendCapabilities(dry_run=True, cancel=True, native_rollback=True)

    def __init__(self, name: str, settings: HelmSettings, *, clock: Clock) -> None:
        self.name = name
        self.settings = settings
        self._clock = clock
        self._helm = Helm(settings)
        self._runs: dict[str, _Run] = {}
        """By Tocsin run id: the runs this instance started, polled or cancelled."""

    async def start(self, request: DeployRequest) -> RunRef:
        if request.run_id in self._runs:
            return self._runs[request.run_id].ref
        target = _target(request.target)
        if not VERSION.match(request.version):
            raise PermanentDelivery(f"version {request.version!r} cannot be a Helm value")
        found = await self._history(target.release, target.namespace)
        before = found[-1].revision if found else 0
        marker = f"Tocsin {request.run_id}: {request.action} {request.service} {request.version}"
        data: dict[str, Any] = {
            "release": target.release,
            "namespace": target.namespace,
            "before": before,
            "started": self._clock.now().isoformat(),
            "dry_run": request.dry_run,
        }
        mine = [r for r in found if r.description == marker]
        if mine and not request.dry_run:  # started before, by an earlier Tocsin process
            data.update(command="upgrade", marker=marker, before=mine[-1].revision - 1, pid=0)
            ref = RunRef(id=f"{target.release}@{mine[-1].revision}", data=data)
            return self._remember(ref, request.run_id).ref
        args, note = await self._plan(request, target, found, marker, data)
        label = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in request.run_id)
        process = await asyncio.to_thread(self._helm.spawn, args, target.namespace, label)
        data.update(pid=process.pid, log=process.log, note=note)
        ref = RunRef(id=str(process.pid), data=data)
        self._runs[request.run_id] = _Run(ref, process)
        return ref

    async def status(self, ref: RunRef, request: DeployRequest) -> RunStatus:
        run = self._runs.get(request.run_id) or self._remember(ref, request.run_id)
        if run.final is not None:
            return run.final
        data = ref.data
        log_tail = await asyncio.to_thread(tail, data.get("log"))
        what = f"helm {data['command']}"
        elapsed = self._clock.now() - datetime.fromisoformat(data["started"])
        overdue = elapsed > self.settings.timeout + GRACE
        exited = run.process.returncode() if run.process is not None else None
        if run.process is not None and exited is None:
            if not overdue:
                message = _say(data, f"{what} running ({format_duration(elapsed)})")
                return RunStatus(Phase.RUNNING, message, log_tail=log_tail)
            await run.process.stop(self.settings.cancel_grace.total_seconds())
            limit = format_duration(self.settings.timeout)
            message = f"{what} ran past its --timeout {limit}; stopped it"
            return self._final(run, data, RunStatus(Phase.FAILED, message, log_tail=log_tail))
        if data.get("dry_run"):
            if exited is None:
                message = "the dry run's result was lost when Tocsin restarted; run it again"
                return self._final(run, data, RunStatus(Phase.FAILED, message, log_tail=log_tail))
            phase = Phase.SUCCEEDED if exited == 0 else Phase.FAILED
            result = "passed" if exited == 0 else f"failed (exit code {exited})"
            message = _say(data, f"dry run: {what} {result}")
            return self._final(run, data, RunStatus(phase, message, log_tail=log_tail))
        phase, message = await self._judge(data, run, exited=exited, overdue=overdue)
        progress = 1.0 if phase is Phase.SUCCEEDED else None
        status = RunStatus(phase, _say(data, message), progress, log_tail=log_tail)
        return self._final(run, data, status) if phase.done else status

    async def cancel(self, ref: RunRef, request: DeployRequest) -> None:
        """Stop helm. A helm started by an earlier Tocsin process is stopped only while its
        command line is still the one this run started (so a reused pid is never signalled)."""
        run = self._runs.get(request.run_id) or self._remember(ref, request.run_id)
        if run.final is not None:
            return
        grace = self.settings.cancel_grace.total_seconds()
        if run.process is not None:
            if run.process.returncode() is None:
                run.cancelled = True
                await run.process.stop(grace)
            return
        pid = int(ref.data.get("pid", 0))
        if pid <= 0:
            raise PermanentDelivery("cannot cancel: an earlier Tocsin process started this helm")
        command = running_command(pid)
        if command is None:
            return  # already gone: nothing to stop
        if not _same_run(command, ref.data):
            raise PermanentDelivery(f"cannot cancel: process {pid} is no longer this run's helm")
        run.cancelled = True
        await stop_group(pid, grace, lambda: running_command(pid) is not None)

    async def artifact_exists(self, request: DeployRequest) -> bool | None:
        return None  # a chart repository or image registry could tell, helm cannot

    async def aclose(self) -> None:
        """Forget the runs. A helm still running is left to finish its release (a restarted
        Tocsin reads the result from Helm's records); killing it would leave it pending."""
        for run in self._runs.values():
            if run.process is not None and run.process.returncode() is not None:
                remove(run.process.log)
        self._runs.clear()

    async def _plan(
        self,
        request: DeployRequest,
        target: HelmTarget,
        found: list[records.Revision],
        marker: str,
        data: dict[str, Any],
    ) -> tuple[list[str], str]:
        """The helm arguments for the run, and a note for the card."""
        wait = ["--wait", "--timeout", _go_duration(self.settings.timeout)]
        history_max = ["--history-max", str(self.settings.history_max)]
        if request.action == "rollback":
            revision = await self._revision_running(target, found, request.version)
            if revision is not None:
                data.update(command="rollback", rollback_to=revision.revision)
                args = ["rollback", target.release, str(revision.revision), *wait]
                args += ["--cleanup-on-fail", *history_max]
                args += ["--dry-run"] if request.dry_run else []
                return args, f"helm rollback to revision {revision.revision}"
        data.update(command="upgrade", marker=marker)
        args = ["upgrade", "--install", target.release, target.chart]
        args += ["--set-string", f"{target.values_key}={request.version}", *wait, *history_max]
        args += ["--description", marker]
        args += ["--atomic"] if self.settings.atomic else []
        args += ["--version", target.chart_version] if target.chart_version else []
        for path in target.values_files:
            args += ["--values", path]
        args += ["--dry-run=server"] if request.dry_run else []
        if request.action == "rollback":
            return (
                args,
                f"no revision of {target.release} ran {request.version}: helm upgrade to it",
            )
        return args, ""

    async def _revision_running(
        self, target: HelmTarget, found: list[records.Revision], version: str
    ) -> records.Revision | None:
        for revision in reversed(found):
            if revision.status not in ("deployed", "superseded"):
                continue
            values = await self._helm.json(
                ["get", "values", target.release, "--revision", str(revision.revision)],
                target.namespace,
            )
            if records.runs_version(revision, values, target.values_key, version):
                return revision
        return None

    async def _history(self, release: str, namespace: str) -> list[records.Revision]:
        answer = await self._helm.json(["history", release], namespace, missing=[])
        return records.history(answer)

    def _remember(self, ref: RunRef, run_id: str) -> _Run:
        run = _Run(ref, None)
        self._runs[run_id] = run
        return run

    async def _judge(
        self, data: dict[str, Any], run: _Run, *, exited: int | None, overdue: bool
    ) -> tuple[Phase, str]:
        """The run's phase from ``helm status`` and ``helm history``."""
        release, namespace = data["release"], data["namespace"]
        answer = await self._helm.json(["status", release], namespace, missing={})
        expect = records.Expect(
            command=data["command"],
            release=release,
            before=int(data["before"]),
            marker=data.get("marker", ""),
            rollback_to=int(data.get("rollback_to", 0)),
        )
        return records.judge(
            await self._history(release, namespace),
            records.current(answer),
            expect,
            exited=exited,
            cancelled=run.cancelled,
            overdue=overdue,
        )

    @staticmethod
    def _final(run: _Run, data: dict[str, Any], status: RunStatus) -> RunStatus:
        """Keep the final answer (with its log tail) and delete the log file."""
        run.final = status
        remove(data.get("log"))
        return status


def _go_duration(delta: timedelta) -> str:
    millis = round(delta.total_seconds() * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def _say(data: dict[str, Any], message: str) -> str:
    return f"{data['note']}; {message}" if data.get("note") else message


def _same_run(command: list[str], data: dict[str, Any]) -> bool:
    if data.get("command") == "rollback":
        wanted = ["rollback", data["release"], str(data.get("rollback_to"))]
        return all(part in command for part in wanted)
    return data.get("marker", "") in command and data["release"] in command


def _target(raw: dict[str, Any]) -> HelmTarget:
    return parse_target(HelmTarget, raw, "invalid Helm target", section=True)


validate, validate_target, create = entry_points(
    HelmSettings, HelmTarget, HelmBackend, section=True
)
