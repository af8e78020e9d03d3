"""The adapter's Cloud SQL Admin calls, through the real google-api-python-client ``sqladmin``
v1 (static discovery document) over HTTP against the fleet simulator."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsim.client import FleetSimClient
from instances import gcp

PROJECT = "sourcegraph-managed-beta"
SQL = "beta-pg"
WHERE: dict[str, Any] = {"project": PROJECT, "instance": SQL}


@pytest.fixture
def beta(fleetsim: FleetSimClient) -> FleetSimClient:
    fleetsim.upsert_instances([{"slug": "beta", "project": PROJECT, "sql_instance": SQL}])
    return fleetsim


def test_backup_insert_wait_list_and_get(beta):
    # when a backup is asked for and waited on
    op = gcp.sql_backup_run_insert(**WHERE, description="before the upgrade (mark:1)")
    assert op.status in ("PENDING", "RUNNING")
    assert op.operation_type == "BACKUP_VOLUME"
    assert op.backup_id
    done = gcp.sql_operation_wait(project=PROJECT, name=op.name)
    # then the operation is DONE and the run SUCCESSFUL, listed and readable by id
    assert done.status == "DONE"
    run = gcp.sql_backup_run_get(**WHERE, backup_id=op.backup_id)
    assert (run.status, run.type, run.instance) == ("SUCCESSFUL", "ON_DEMAND", SQL)
    assert run.description == "before the upgrade (mark:1)"
    assert [r.id for r in gcp.sql_backup_run_list(**WHERE)] == [op.backup_id]
    # and the simulator saw one insert, and has the run
    assert beta.calls("sql.backupRuns.insert") == 1
    (stored,) = beta.backups()
    assert str(stored["id"]) == op.backup_id


def test_list_is_newest_first_and_paged(beta):
    beta.configure(operation_durations={"sql.backupRuns.insert": 0})
    ids = []
    for n in range(3):
        op = gcp.sql_backup_run_insert(**WHERE, description=f"n{n}")
        gcp.sql_operation_wait(project=PROJECT, name=op.name)
        ids.append(op.backup_id)
    assert [r.id for r in gcp.sql_backup_run_list(**WHERE)] == ids[::-1]


def test_a_second_backup_while_one_runs_is_a_transient_refusal(beta):
    beta.configure(operation_durations={"sql.backupRuns.insert": 5})
    gcp.sql_backup_run_insert(**WHERE, description="first")
    with pytest.raises(gcp.GcpTransientError) as refused:
        gcp.sql_backup_run_insert(**WHERE, description="second")
    assert refused.value.status == 409
    assert refused.value.reason == "operationInProgress"


def test_errors_are_translated(beta):
    # an unknown Cloud SQL instance is a permanent 404
    with pytest.raises(gcp.GcpNotFound):
        gcp.sql_backup_run_list(project=PROJECT, instance="nope")
    # a 503 on the insert is transient, and nothing was backed up
    beta.set_fault("sql.backupRuns.insert", status=503, count=1)
    with pytest.raises(gcp.GcpTransientError) as unavailable:
        gcp.sql_backup_run_insert(**WHERE, description="x")
    assert unavailable.value.status == 503
    assert beta.backups() == []
    # a read's transient error is retried by the adapter
    beta.set_fault("sql.backupRuns.list", status=503, count=2)
    assert gcp.sql_backup_run_list(**WHERE) == []
    assert beta.calls("sql.backupRuns.list") == 4  # the 404 above, two 503s, the answer


def test_an_operation_ending_in_error_raises_it_and_the_run_failed(beta):
    beta.set_fault(
        "sql.backupRuns.insert", status=500, count=1, in_operation=True, message="disk full"
    )
    op = gcp.sql_backup_run_insert(**WHERE, description="x")
    with pytest.raises(gcp.GcpTransientError, match="disk full"):
        gcp.sql_operation_wait(project=PROJECT, name=op.name)
    run = gcp.sql_backup_run_wait(**WHERE, backup_id=op.backup_id)
    assert run.status == "FAILED"
    assert "disk full" in run.error


def test_waits_time_out_as_transient(beta, settings):
    beta.configure(operation_durations={"sql.backupRuns.insert": 30})
    op = gcp.sql_backup_run_insert(**WHERE, description="slow")
    with pytest.raises(gcp.GcpTimeout, match=r"not done after 0\.5 s"):
        gcp.sql_backup_run_wait(**WHERE, backup_id=op.backup_id, timeout=0.5)
    assert gcp.sql_backup_run_get(**WHERE, backup_id=op.backup_id).status == "RUNNING"


def test_a_garbled_answer_is_a_bad_response(beta):
    beta.set_fault("sql.backupRuns.list", body='{"items": [{"id": {"x": 1}}]}', count=1)
    with pytest.raises(gcp.GcpBadResponse):
        gcp.sql_backup_run_list(**WHERE)
    beta.set_fault("sql.backupRuns.list", body="not json", count=1)
    with pytest.raises(gcp.GcpBadResponse):
        gcp.sql_backup_run_list(**WHERE)
