"""An Argo CD Application's JSON read as the state of one of our runs (pure; no I/O).

Which operation is ours: a sync we started carries ``tocsin-run=<run id>`` in its
``operation.info`` (the sync request's ``infos``); a rollback cannot carry one, so it is the
first operation that started after the one recorded when we asked (``before``).

- ``operationState.phase`` Running/Terminating → running; Failed/Error → failed (``Operation
  terminated`` → cancelled); Succeeded → the health decides, once Argo CD has reconciled the
  application after the operation finished: Healthy → succeeded, Degraded → failed,
  Progressing/Suspended/Missing/Unknown → running. A dry run ends with its operation.
"""

from __future__ import annotations

from typing import Any

from bot.ports import Phase, RunStatus

Json = dict[str, Any]
RUN_INFO = "tocsin-run"
"""The ``operation.info`` name that carries Tocsin's run id."""


def operation_state(app: Json) -> Json:
    state = (app.get("status") or {}).get("operationState")
    return state if isinstance(state, dict) else {}


def started_at(app: Json) -> str | None:
    """When the application's last operation started (None: never)."""
    return operation_state(app).get("startedAt") or None


def run_of(operation: Json) -> str | None:
    """The Tocsin run id an operation carries (None: not started by Tocsin)."""
    for info in operation.get("info") or []:
        if isinstance(info, dict) and info.get("name") == RUN_INFO:
            return str(info.get("value", ""))
    return None


def requested_by(app: Json, run_id: str) -> bool:
    """A sync of `run_id` is pending or has run: `start` was already done."""
    pending = app.get("operation")
    if isinstance(pending, dict) and run_of(pending) == run_id:
        return True
    return run_of(operation_state(app).get("operation") or {}) == run_id


def busy(app: Json) -> bool:
    """An operation is pending or running (a rollback would be refused)."""
    return bool(app.get("operation")) or operation_state(app).get("phase") in (
        "Running",
        "Terminating",
    )


def interpret(app: Json, data: Json, url: str) -> RunStatus:
    """The run's status from the application, `data` being the RunRef's."""
    note = _paused_note(data)
    state = operation_state(app)
    if not _ours(state, data):
        waiting = "waiting for Argo CD to start the "
        return RunStatus(Phase.RUNNING, waiting + data.get("mode", "sync") + note, url=url)
    phase = str(state.get("phase", ""))
    message = str(state.get("message", "")).strip()
    said = f": {message}" if message else ""
    if phase in ("Running", "Terminating", ""):
        mode = data.get("mode", "sync")
        return RunStatus(Phase.RUNNING, f"{mode} {phase or 'pending'}{said}{note}", url=url)
    if phase in ("Failed", "Error"):
        if "terminated" in message.lower():
            return RunStatus(Phase.CANCELLED, f"operation terminated{note}", url=url)
        return RunStatus(Phase.FAILED, f"{data.get('mode', 'sync')} {phase}{said}{note}", url=url)
    if data.get("dry_run"):
        plan = f"; would {data['plan']}" if data.get("plan") else ""
        return RunStatus(Phase.SUCCEEDED, f"dry run succeeded{said}{plan}", url=url)
    return _health(app, state, note, url)


def _ours(state: Json, data: Json) -> bool:
    if not state:
        return False
    run = run_of(state.get("operation") or {})
    if run is not None:
        return run == data.get("run")
    return bool(state.get("startedAt")) and state.get("startedAt") != data.get("before")


def _health(app: Json, state: Json, note: str, url: str) -> RunStatus:
    status = app.get("status") or {}
    health = status.get("health") or {}
    sync = (status.get("sync") or {}).get("status", "Unknown")
    finished, reconciled = state.get("finishedAt"), status.get("reconciledAt")
    if finished and reconciled and reconciled < finished:
        return RunStatus(Phase.RUNNING, f"synced; waiting for the health check{note}", url=url)
    said = f" ({health['message']})" if health.get("message") else ""
    verdict = health.get("status", "Unknown")
    if verdict == "Healthy":
        return RunStatus(Phase.SUCCEEDED, f"synced ({sync}) and Healthy{note}", url=url)
    if verdict == "Degraded":
        return RunStatus(Phase.FAILED, f"synced ({sync}) but Degraded{said}{note}", url=url)
    return RunStatus(Phase.RUNNING, f"synced ({sync}); health {verdict}{said}{note}", url=url)


def _paused_note(data: Json) -> str:
    if data.get("auto_sync_paused") is None:
        return ""
    return (
        f". Auto-sync of {data.get('app')} is paused (Tocsin turned it off to roll back); "
        "turn it on again only after the fix is in Git, or Argo CD will sync the bad "
        "version again"
    )
