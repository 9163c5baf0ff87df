"""GitHub Actions workflow runs read as the state of one of our runs (pure; no I/O).

- `find_run` picks, from a ``GET …/workflows/{wf}/runs`` answer, the run whose title carries
  Tocsin's run id as a whole word (``run-42`` is not ``run-421``): the workflow names its runs
  with ``run-name: … ${{ inputs.run_id }}``.
- `interpret`: ``queued``/``in_progress``/``waiting``/``requested``/``pending`` → running;
  ``completed`` with ``success`` → succeeded; ``failure``/``timed_out``/``startup_failure``/
  ``action_required`` → failed; ``cancelled``/``skipped``/``stale``/``neutral`` → cancelled.
"""

from __future__ import annotations

import re
from typing import Any

from bot.ports import Phase, RunStatus

Json = dict[str, Any]
WAITING = {
    "queued": "queued",
    "in_progress": "in progress",
    "waiting": "waiting for an environment's protection rules (a reviewer's approval?)",
    "requested": "requested",
    "pending": "pending (waiting for a concurrency group)",
}
FAILED = {
    "failure": "failed",
    "timed_out": "timed out",
    "startup_failure": "could not start (startup failure: check the workflow file)",
    "action_required": "needs an action on GitHub (action required)",
}
CANCELLED = {
    "cancelled": "was cancelled",
    "skipped": "was skipped",
    "stale": "went stale",
    "neutral": "ended neutral (neither success nor failure): taken as not deployed",
}


def find_run(answer: Json, run_id: str) -> Json | None:
    """The oldest listed run whose display title or name carries `run_id`."""
    token = re.compile(rf"(?<![\w-]){re.escape(run_id)}(?![\w-])")
    runs = [
        run
        for run in answer.get("workflow_runs") or []
        if isinstance(run, dict)
        and token.search(f"{run.get('display_title', '')}\n{run.get('name', '')}")
    ]
    return min(runs, key=lambda run: int(run.get("id", 0)), default=None)


def interpret(run: Json) -> RunStatus:
    title = f"workflow run #{run.get('run_number', run.get('id'))}"
    url = str(run.get("html_url", ""))
    status = str(run.get("status", ""))
    if status != "completed":
        said = WAITING.get(status, status or "in an unknown state")
        return RunStatus(Phase.RUNNING, f"{title} {said}", url=url)
    conclusion = str(run.get("conclusion") or "")
    if conclusion == "success":
        return RunStatus(Phase.SUCCEEDED, f"{title} succeeded", url=url)
    if conclusion in CANCELLED:
        return RunStatus(Phase.CANCELLED, f"{title} {CANCELLED[conclusion]}", url=url)
    said = FAILED.get(conclusion, f"ended {conclusion or 'without a conclusion'}")
    return RunStatus(Phase.FAILED, f"{title} {said}", url=url)
