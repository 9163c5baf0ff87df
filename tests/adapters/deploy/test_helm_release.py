"""Reading Helm's release records: which revision ran a version, and what a run's outcome is."""

from __future__ import annotations

import pytest

from adapters.deploy.helm_release import Expect, Revision, history, judge, runs_version, value_at
from bot.ports import Phase

UPGRADE = Expect(command="upgrade", release="orders", before=2, marker="Tocsin run-1: deploy")
ROLLBACK = Expect(command="rollback", release="orders", before=2, rollback_to=1)
OLD = [Revision(1, "superseded", "Install complete"), Revision(2, "deployed", "Upgrade complete")]


def test_history_answers_become_revisions_oldest_first() -> None:
    answer = [
        {"revision": 2, "status": "deployed", "chart": "orders-0.3.0", "app_version": "1.16.0"},
        {"revision": 1, "status": "superseded", "description": "Install complete"},
    ]
    assert [r.revision for r in history(answer)] == [1, 2]
    assert history(None) == []


def test_value_at_a_set_style_key() -> None:
    values = {"image": {"tag": "1.4.2"}, "images": [{"tag": "a"}, {"tag": "b"}]}
    assert value_at(values, "image.tag") == "1.4.2"
    assert value_at(values, "images[1].tag") == "b"
    assert value_at(values, "images[5].tag") is None
    assert value_at(None, "image.tag") is None


def test_which_revision_ran_a_version() -> None:
    rev = Revision(3, "superseded", chart="orders-2.0.0", app_version="1.16.0")
    assert runs_version(rev, {"image": {"tag": "1.4.2"}}, "image.tag", "1.4.2")
    assert not runs_version(rev, {"image": {"tag": "1.4.1"}}, "image.tag", "1.16.0")
    assert runs_version(rev, None, "image.tag", "1.16.0")  # the chart's app version
    assert runs_version(rev, {}, "image.tag", "2.0.0")  # the chart's own version


@pytest.mark.parametrize(
    ("new", "exited", "phase", "message"),
    [
        ([], None, Phase.RUNNING, "waiting for helm to record a new revision"),
        ([Revision(3, "pending-upgrade", "Tocsin run-1: deploy")], None, Phase.RUNNING,
         "revision 3 is pending-upgrade"),
        ([Revision(3, "deployed", "Tocsin run-1: deploy")], 0, Phase.SUCCEEDED,
         "revision 3 deployed: Tocsin run-1: deploy"),
        ([Revision(3, "superseded", "Tocsin run-1: deploy"), Revision(4, "deployed", "x")], None,
         Phase.SUCCEEDED, "revision 3 deployed (since superseded): Tocsin run-1: deploy"),
        ([Revision(3, "failed", 'Upgrade "orders" failed: boom')], 1, Phase.FAILED,
         'revision 3 failed: Upgrade "orders" failed: boom'),
        ([Revision(3, "pending-upgrade", "Tocsin run-1: deploy")], -9, Phase.FAILED,
         "helm is gone and left revision 3 pending-upgrade; recover with: helm rollback orders"),
        ([Revision(3, "deployed", "Upgrade complete")], 2, Phase.FAILED,
         "helm exited with code 2; revision 3 is deployed"),
        ([], 1, Phase.FAILED, "helm ended without recording a new revision (exit code 1)"),
    ],
)  # fmt: skip
def test_judging_an_upgrade(
    new: list[Revision], exited: int | None, phase: Phase, message: str
) -> None:
    assert judge(OLD + new, None, UPGRADE, exited=exited, cancelled=False, overdue=False) == (
        phase,
        message,
    )


def test_judging_a_rollback() -> None:
    records = [*OLD, Revision(3, "deployed", "Rollback to 1")]
    assert judge(records, records[-1], ROLLBACK, exited=0, cancelled=False, overdue=False) == (
        Phase.SUCCEEDED,
        "revision 3 deployed: Rollback to 1",
    )


def test_after_a_restart_a_pending_release_is_running_until_overdue() -> None:
    records = [*OLD, Revision(3, "pending-upgrade", "Tocsin run-1: deploy")]
    running = judge(records, None, UPGRADE, exited=None, cancelled=False, overdue=False)
    assert running[0] is Phase.RUNNING
    gone = judge(records, None, UPGRADE, exited=None, cancelled=False, overdue=True)
    assert gone[0] is Phase.FAILED
    nothing = judge(OLD, None, UPGRADE, exited=None, cancelled=False, overdue=True)
    assert nothing == (Phase.FAILED, "helm ended without recording a new revision")


def test_helm_status_answer_wins_over_a_stale_history() -> None:
    records = [*OLD, Revision(3, "pending-upgrade", "Tocsin run-1: deploy")]
    latest = Revision(3, "deployed", "Tocsin run-1: deploy")
    phase, _ = judge(records, latest, UPGRADE, exited=0, cancelled=False, overdue=False)
    assert phase is Phase.SUCCEEDED
