"""The approval policy of a new run, as pure functions: how many approvals it needs, which
state it opens in and when that wait lapses, and who may approve it."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.authz import Grant, Person
from bot.deploys.ops import (
    AWAITING_APPROVAL,
    AWAITING_CONFIRMATION,
    QUEUED,
    may_approve,
    needed,
    opening,
    policy,
)
from bot.settings.deploy import Approval, DeploySettings
from tests.support import make_settings

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def person(pid: str, *roles: str, grant: str = "approve") -> Person:
    return Person(pid, pid.title(), None, roles, (Grant(grant),), {})


def test_a_run_needs_its_environments_approvals_but_a_promotion_needs_none() -> None:
    settings = make_settings(deploy={"approvals": {"prod": {"deploy": 2, "rollback": 1}}})
    assert needed(settings, "deploy", "prod", None) == 2
    assert needed(settings, "rollback", "prod", None) == 1
    assert needed(settings, "rollback", "prod", 5) == 1  # taking a canary away
    assert needed(settings, "deploy", "prod", 5) == 0  # promoting a canary
    assert needed(settings, "deploy", "staging", None) == 0
    assert policy(settings, "staging") == Approval()


def test_a_run_opens_waiting_for_its_requester_then_its_approvers_then_the_queue() -> None:
    deploy = DeploySettings()
    confirm = opening(deploy, confirm=True, needed=2, now=NOW)
    assert confirm == (AWAITING_CONFIRMATION, NOW + deploy.confirm_timeout)
    approve = opening(deploy, confirm=False, needed=2, now=NOW)
    assert approve == (AWAITING_APPROVAL, NOW + deploy.approval_ttl)
    assert opening(deploy, confirm=False, needed=0, now=NOW) == (QUEUED, NOW)


def test_only_the_policys_approvers_with_the_grant_may_approve() -> None:
    anyone, listed = Approval(deploy=1), Approval(deploy=1, approvers=("sre", "dana"))
    assert may_approve(anyone, person("bob"), "orders", "prod")
    assert not may_approve(anyone, person("bob", grant="view"), "orders", "prod")
    assert may_approve(listed, person("bob", "sre"), "orders", "prod")
    assert may_approve(listed, person("dana"), "orders", "prod")
    assert not may_approve(listed, person("bob", "dev"), "orders", "prod")
