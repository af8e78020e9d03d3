"""Inventory sync: the real adapter against the simulator, run by a real Celery worker."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from instances.choices import Drift, LifecycleState, OperationKind, OperationState, StepState
from instances.models import Instance, Operation
from instances.services.inventory import fleet_sync
from instances.services.operations import operation_create
from instances.tasks import operation_run
from mi_admin.audit.models import AuditEvent
from tests.instances.factories import make_simulated_instance


def _instance(slug: str, *, state: str = LifecycleState.ACTIVE) -> Instance:
    return make_simulated_instance(slug, state=state)


def _sim_vm(sim, instance: Instance, *, status: str = "RUNNING", version: str = "6.9.1") -> None:
    sim.upsert_instances(
        [
            {
                "slug": instance.slug,
                "project": instance.gcp_project,
                "zone": instance.gcp_zone,
                "name": instance.vm_name,
                "status": status,
                "version": version,
            }
        ]
    )


def _wait_finished(operation: Operation, seconds: float = 30) -> Operation:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        operation.refresh_from_db()
        if operation.finished_at is not None:
            return operation
        time.sleep(0.1)
    raise AssertionError(f"operation {operation.pk} still {operation.state} after {seconds} s")


@pytest.mark.django_db(transaction=True)
def test_sync_requested_runs_on_the_worker(celery_worker, fleetsim, devops):
    # given an active instance whose VM runs 6.9.1
    instance = _instance("acme-prod")
    _sim_vm(fleetsim, instance)
    # when devops asks for a sync (the task is queued on commit, the worker runs it)
    operation, created = operation_create(kind=OperationKind.SYNC, actor=devops, instance=instance)
    operation = _wait_finished(operation)
    # then the inventory has what GCP reports, and the steps were logged
    instance.refresh_from_db()
    assert created
    assert operation.state == OperationState.SUCCEEDED
    assert instance.vm_status == "RUNNING"
    assert instance.vm_version == "6.9.1"
    assert instance.drift == Drift.NONE
    assert instance.last_synced_at is not None
    assert [s.name for s in operation.steps.all()] == [
        "Read VM default-red-instance in sourcegraph-managed-acme-prod",
        "Update the inventory",
    ]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "operation.sync.requested",
        "operation.sync.succeeded",
        "instance.inventory_changed",
    } <= actions


@pytest.mark.django_db(transaction=True)
def test_transient_errors_are_retried_by_the_task(celery_worker, fleetsim, devops):
    # given GCP answering 503 to the next 6 reads (more than the adapter's own 3 retries)
    instance = _instance("acme-trial")
    _sim_vm(fleetsim, instance)
    fleetsim.set_fault("compute.instances.get", status=503, count=6)
    # when a sync runs on the worker
    operation, _ = operation_create(kind=OperationKind.SYNC, actor=devops, instance=instance)
    operation = _wait_finished(operation, seconds=45)
    # then the task retried with backoff and succeeded
    assert operation.state == OperationState.SUCCEEDED
    assert operation.attempts >= 2
    assert fleetsim.calls("compute.instances.get") >= 7


@pytest.mark.parametrize(
    ("state", "vm_status", "drift"),
    [
        (LifecycleState.ACTIVE, "TERMINATED", Drift.VM_STOPPED),
        (LifecycleState.ACTIVE, None, Drift.VM_MISSING),
        (LifecycleState.SUSPENDED, "RUNNING", Drift.VM_RUNNING),
        (LifecycleState.SUSPENDED, "TERMINATED", Drift.NONE),
        (LifecycleState.SUSPENDED, None, Drift.NONE),
    ],
    ids=[
        "active-stopped",
        "active-missing",
        "suspended-running",
        "suspended-stopped",
        "suspended-removed",
    ],
)
@pytest.mark.django_db(transaction=True)
def test_drift_is_flagged(fleetsim, state, vm_status, drift):
    # given an instance in some lifecycle state and its VM in GCP (or no VM at all)
    instance = _instance("acme-prod", state=state)
    if vm_status is not None:
        _sim_vm(fleetsim, instance, status=vm_status)
    # when the fleet is synced
    report = fleet_sync()
    # then the drift is what the two disagree on
    instance.refresh_from_db()
    assert report.checked == 1
    assert instance.drift == drift
    assert bool(instance.drift_detail) == (drift != Drift.NONE)


@pytest.mark.django_db(transaction=True)
def test_permanent_error_fails_the_operation_and_flags_the_instance(fleetsim, devops):
    # given GCP refusing to read the VM (403)
    instance = _instance("acme-prod")
    _sim_vm(fleetsim, instance)
    fleetsim.set_fault("compute.instances.get", status=403, count=1)
    operation, _ = operation_create(
        kind=OperationKind.SYNC, actor=devops, instance=instance, enqueue=lambda *_: None
    )
    # when the task runs
    operation_run.apply(args=(operation.pk,))
    # then the operation failed with the reason and the instance shows it
    operation.refresh_from_db()
    instance.refresh_from_db()
    assert operation.state == OperationState.FAILED
    assert "403" in operation.error or "denied" in operation.error.lower()
    assert instance.drift == Drift.SYNC_FAILED


@pytest.mark.django_db(transaction=True)
def test_task_run_twice_does_the_work_once(fleetsim, devops):
    # given a sync operation that already ran
    instance = _instance("acme-prod")
    _sim_vm(fleetsim, instance)
    operation, _ = operation_create(
        kind=OperationKind.SYNC, actor=devops, instance=instance, enqueue=lambda *_: None
    )
    operation_run.apply(args=(operation.pk,))
    calls = fleetsim.calls("compute.instances.get")
    # when the same task is delivered again (acks_late redelivery)
    second = operation_run.apply(args=(operation.pk,))
    # then it does nothing: no new GCP call, no new step, same outcome
    operation.refresh_from_db()
    assert second.result == "skipped"
    assert fleetsim.calls("compute.instances.get") == calls
    assert operation.steps.count() == 2
    assert operation.attempts == 1


def test_same_idempotency_key_gives_one_operation(db, devops):
    # given a sync requested with a form's key
    instance = _instance("acme-prod")
    first, created = operation_create(
        kind=OperationKind.SYNC,
        actor=devops,
        instance=instance,
        idempotency_key="form-123",
        enqueue=lambda *_: None,
    )
    # when the form is posted again, and when another sync is asked while one is pending
    again, created_again = operation_create(
        kind=OperationKind.SYNC,
        actor=devops,
        instance=instance,
        idempotency_key="form-123",
        enqueue=lambda *_: None,
    )
    other, created_other = operation_create(
        kind=OperationKind.SYNC, actor=devops, instance=instance, enqueue=lambda *_: None
    )
    # then there is still one operation
    assert created
    assert not created_again
    assert not created_other
    assert again.pk == first.pk == other.pk
    assert Operation.objects.count() == 1


# --- whatever GCP returns, one VM's bad data flags that VM and the others sync -------------


def _fleet(sim, bad: dict[str, object]) -> tuple[Instance, Instance, Instance]:
    """Three active instances; the middle one's VM gets ``bad`` in its simulator spec."""
    good_a, broken, good_b = (_instance(slug) for slug in ("acme-a", "acme-b", "acme-c"))
    specs = []
    for instance in (good_a, broken, good_b):
        spec: dict[str, object] = {
            "slug": instance.slug,
            "project": instance.gcp_project,
            "zone": instance.gcp_zone,
            "name": instance.vm_name,
            "version": "6.9.1",
            "internal_ip": "10.0.0.5",
        }
        if instance is broken:
            spec.update(bad)
        specs.append(spec)
    sim.upsert_instances(specs)
    return good_a, broken, good_b


def _assert_synced(*instances: Instance) -> None:
    for instance in instances:
        instance.refresh_from_db()
        assert (instance.vm_status, instance.vm_version, instance.drift) == (
            "RUNNING",
            "6.9.1",
            Drift.NONE,
        ), instance.slug
        assert instance.vm_internal_ip == "10.0.0.5"
        assert instance.last_synced_at is not None


@pytest.mark.django_db(transaction=True)
def test_oversized_version_metadata_on_one_vm_flags_it_and_the_others_sync(fleetsim):
    # given three VMs, one of whose sourcegraph-version metadata is far longer than a version
    good_a, broken, good_b = _fleet(fleetsim, {"version": "6.9.1-" + "x" * 300})
    # when the fleet is synced
    report = fleet_sync()
    # then the other two are synced, and the broken one is flagged with a readable reason
    _assert_synced(good_a, good_b)
    broken.refresh_from_db()
    assert (report.checked, report.failed) == (3, 1)
    assert broken.drift == Drift.SYNC_FAILED
    assert "sourcegraph-version" in broken.drift_detail
    assert "306 characters" in broken.drift_detail
    assert "at most 32" in broken.drift_detail
    assert broken.vm_version == ""
    assert broken.vm_status == "RUNNING"
    assert broken.last_synced_at is not None


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"version": "6.9.1\x00"}, "sourcegraph-version metadata contains unprintable"),
        ({"version": "6.9.1\n"}, "sourcegraph-version metadata contains unprintable"),
        ({"internal_ip": "10.0.0.300"}, "internal IP '10.0.0.300' is not an IP address"),
        ({"external_ip": "nat-pending"}, "external IP 'nat-pending' is not an IP address"),
        ({"machine_type": "n2-" + "x" * 80}, "machine type is 83 characters (at most 63)"),
        ({"api_fields": {"status": "DEFROSTING"}}, "unknown VM status 'DEFROSTING'"),
        ({"api_fields": {"status": "S" * 40}}, "unknown VM status 'SSSS"),
        ({"api_fields": {"status": ""}}, "GCP reported no VM status"),
        ({"api_fields": {"id": "9" * 30}}, "could not be read"),
        ({"api_fields": {"labels": "not-a-map"}}, "could not be read"),
        ({"api_fields": {"metadata": {"items": "x"}}}, "could not be read"),
    ],
    ids=[
        "version-nul",
        "version-newline",
        "internal-ip",
        "external-ip",
        "machine-type-too-long",
        "status-unknown",
        "status-too-long",
        "status-missing",
        "id-out-of-range",
        "labels-not-a-map",
        "metadata-items-not-a-list",
    ],
)
@pytest.mark.django_db(transaction=True)
def test_bad_data_from_gcp_flags_only_that_instance(fleetsim, bad, reason):
    # given three VMs, one of which GCP describes with data we cannot store or trust
    good_a, broken, good_b = _fleet(fleetsim, bad)
    # when the fleet is synced
    report = fleet_sync()
    # then the others are synced and that one is flagged, saying why
    _assert_synced(good_a, good_b)
    broken.refresh_from_db()
    assert (report.checked, report.failed) == (3, 1)
    assert broken.drift == Drift.SYNC_FAILED
    assert reason in broken.drift_detail
    assert len(broken.drift_detail) <= 255


@pytest.mark.parametrize(
    "bad",
    [
        {"api_fields": {"creationTimestamp": "last tuesday"}},
        {"api_fields": {"status": "REPAIRING"}},
        {"labels": {"k" * 63: "v" * 63}},
    ],
    ids=["timestamp-garbage", "status-repairing", "long-labels"],
)
@pytest.mark.django_db(transaction=True)
def test_odd_but_harmless_data_syncs(fleetsim, bad):
    # given a VM with data we do not store or that is merely unusual
    good_a, odd, good_b = _fleet(fleetsim, bad)
    # when
    report = fleet_sync()
    # then it is synced like the others
    _assert_synced(good_a, good_b)
    odd.refresh_from_db()
    assert report.failed == 0
    assert odd.drift in (Drift.NONE, Drift.VM_STOPPED)
    assert odd.vm_version == "6.9.1"


@pytest.mark.django_db(transaction=True)
def test_fleet_sync_operation_with_bad_data_succeeds_and_reports_it(fleetsim, devops):
    # given one VM with oversized version metadata among good ones
    good_a, broken, good_b = _fleet(fleetsim, {"version": "x" * 40})
    operation, _ = operation_create(kind=OperationKind.SYNC, actor=devops, enqueue=lambda *_: None)
    # when the fleet sync operation runs
    operation_run.apply(args=(operation.pk,))
    # then it finished, its step is closed and says one instance was unreadable
    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED
    assert operation.result["failed"] == 1
    [step] = operation.steps.all()
    assert step.state == StepState.DONE
    assert "1 unreadable" in step.detail
    _assert_synced(good_a, good_b)
    broken.refresh_from_db()
    assert broken.drift == Drift.SYNC_FAILED


@pytest.mark.django_db(transaction=True)
def test_a_failing_step_is_closed_as_failed_on_every_attempt(fleetsim, devops, settings):
    # given GCP answering 503 to every read, no read retries inside the adapter, and retries
    # an hour apart (so no worker runs one behind the test's back)
    settings.GCP_READ_RETRIES = 0
    settings.OPERATION_RETRY_BASE_SECONDS = 3600
    instance = _instance("acme-prod")
    _sim_vm(fleetsim, instance)
    fleetsim.set_fault("compute.instances.get", status=503)
    operation, _ = operation_create(
        kind=OperationKind.SYNC, actor=devops, instance=instance, enqueue=lambda *_: None
    )
    # when the task runs, its retry is run (made due at once), and then the budget is spent
    operation_run.apply(args=(operation.pk,))
    Operation.objects.filter(pk=operation.pk).update(next_retry_at=timezone.now())
    operation_run.apply(args=(operation.pk,))
    settings.OPERATION_TRANSIENT_RETRY_BUDGET_SECONDS = 0
    Operation.objects.filter(pk=operation.pk).update(next_retry_at=timezone.now())
    operation_run.apply(args=(operation.pk,))
    # then the operation failed and no step is left "running"
    operation.refresh_from_db()
    steps = list(operation.steps.all())
    assert operation.state == OperationState.FAILED
    assert len(steps) == 3
    assert all(step.state == StepState.FAILED for step in steps)
    assert all("503" in step.detail for step in steps)
    assert all(step.finished_at is not None for step in steps)


@pytest.mark.django_db(transaction=True)
def test_missing_fields_sync_as_blanks(fleetsim):
    # given a VM whose answer has no network interface, no metadata and no machine type
    good_a, bare, good_b = _fleet(
        fleetsim, {"api_fields": {"networkInterfaces": [], "metadata": {}, "machineType": ""}}
    )
    # when
    report = fleet_sync()
    # then it is synced with what there is
    _assert_synced(good_a, good_b)
    bare.refresh_from_db()
    assert report.failed == 0
    assert (bare.vm_status, bare.drift) == ("RUNNING", Drift.NONE)
    assert (bare.vm_version, bare.vm_machine_type, bare.vm_internal_ip) == ("", "", None)


@pytest.mark.django_db(transaction=True)
def test_instance_sync_of_bad_data_fails_the_operation_with_the_reason(fleetsim, devops):
    # given one instance whose VM has an oversized version
    instance = _instance("acme-prod")
    _sim_vm(fleetsim, instance, version="v" * 33)
    operation, _ = operation_create(
        kind=OperationKind.SYNC, actor=devops, instance=instance, enqueue=lambda *_: None
    )
    # when
    operation_run.apply(args=(operation.pk,))
    # then the operation failed saying why, its step is closed, and the instance is flagged
    operation.refresh_from_db()
    instance.refresh_from_db()
    assert operation.state == OperationState.FAILED
    assert "sourcegraph-version metadata is 33 characters (at most 32)" in operation.error
    assert [s.state for s in operation.steps.all()] == [StepState.FAILED]
    assert instance.drift == Drift.SYNC_FAILED
    assert instance.vm_status == "RUNNING"
