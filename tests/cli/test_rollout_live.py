"""``mi rollout`` against a live server with a real token from the local IdP: plan and
start a release, read its status, pause, resume and abort it, and the refusals' exit codes
(``/api/v1/rollouts/...``)."""

from __future__ import annotations

import json

import pytest

from mi_admin.audit.models import AuditEvent
from mi_cli.errors import ExitCode
from rollouts.models import Rollout, RolloutState
from tests.rollouts.conftest import make_fleet, make_releases

pytestmark = pytest.mark.django_db(transaction=True)


def test_rollout_start_status_pause_resume_abort(live_api, login_as, mi):
    # given a fleet on 6.9.1, 6.10.0 registered, and devops logged in
    make_releases()
    make_fleet(None)
    login_as("devops")
    # when they start a rollout of 6.10.0
    result = mi("rollout", "start", "6.10.0", "--failure-budget", "1")
    # then it was planned and started, and its status is printed
    assert result.code == ExitCode.OK, result.err
    rollout = Rollout.objects.get()
    assert rollout.state == RolloutState.RUNNING
    assert rollout.failure_budget == 1
    assert f"Rollout #{rollout.pk} of 6.10.0 planned." in result.out
    assert f"Rollout #{rollout.pk} of 6.10.0: running" in result.out
    assert "Test instances" in result.out
    assert "rctest" in result.out
    assert "skipped" in result.out
    # when they ask for its status by version, as JSON
    status = mi("rollout", "status", "6.10.0", "--json")
    # then the waves and per-instance states come back
    assert status.code == ExitCode.OK, status.err
    body = json.loads(status.out)
    assert body["id"] == rollout.pk
    assert body["state"] == "running"
    assert [w["position"] for w in body["waves"]] == [0, 1, 2, 3]
    assert body["counts"]["skipped"] == 1
    # a second start of the release is refused, exit 1 with the service's sentence; its
    # plan stays, and is the one a later start starts (no second plan)
    for _ in range(2):
        again = mi("rollout", "start", "6.10.0")
        assert again.code == ExitCode.FAILED
        assert "A rollout of 6.10.0 is already under way." in again.err
    assert Rollout.objects.filter(state=RolloutState.PLANNED).count() == 1
    # and the version still names the rollout under way, not the newer plan
    assert json.loads(mi("rollout", "status", "6.10.0", "--json").out)["id"] == rollout.pk
    # pause, resume and abort by id
    paused = mi("rollout", "pause", str(rollout.pk), "--reason", "watching a metric")
    assert paused.code == ExitCode.OK, paused.err
    assert "paused (watching a metric)" in paused.out
    assert mi("rollout", "resume", str(rollout.pk)).code == ExitCode.OK
    aborted = mi("rollout", "abort", str(rollout.pk), "--reason", "wrong build", "--json")
    assert aborted.code == ExitCode.OK, aborted.err
    assert json.loads(aborted.out)["state"] == "aborted"
    # then each action was audited as devops
    by_devops = AuditEvent.objects.filter(actor__username="devops@example.com")
    actions = set(by_devops.values_list("action", flat=True))
    assert {"rollout.started", "rollout.paused", "rollout.resumed"} <= actions
    # and an unknown rollout is exit 5
    missing = mi("rollout", "status", "9.9.9")
    assert missing.code == ExitCode.NOT_FOUND
    assert "No rollout of 9.9.9 found." in missing.err


def test_a_manager_cannot_start_a_rollout(live_api, login_as, mi):
    # given a manager logged in
    make_releases()
    make_fleet(None)
    login_as("manager")
    # when they try; then exit 4 and nothing was planned
    result = mi("rollout", "start", "6.10.0")
    assert result.code == ExitCode.FORBIDDEN
    assert not Rollout.objects.exists()
