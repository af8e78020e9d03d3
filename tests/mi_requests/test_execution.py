"""Executing approved requests through the lifecycle services: a real worker runs the
operation against the fleet simulator; the request follows it to done, or back to approved
with the error; a lost hook is made up by the sweep; a teardown needs the typed name and
can be cancelled during its countdown."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from instances.choices import LifecycleState, OperationKind, OperationState
from instances.models import Operation
from mi_admin.approvals.services import approval_review_submit
from mi_admin.audit.models import AuditEvent
from mi_requests.choices import RequestState
from mi_requests.models import CustomerRequest
from mi_requests.services.execution import (
    request_execute,
    request_teardown_cancel,
    requests_sweep,
)
from mi_requests.services.requests import RequestError, request_acknowledge, request_submit
from tests.fixtures.personas import make_persona
from tests.instances.test_lifecycle import lifecycle_instance
from tests.mi_requests.conftest import ensure_policies


def approved(kind: str, instance, **kwargs) -> CustomerRequest:
    """A request filed by ce, acknowledged by devops, approved by manager (committed)."""
    ensure_policies()
    ce, devops, manager = (make_persona(n) for n in ("ce", "devops", "manager"))
    request = request_submit(
        requester=ce, kind=kind, instance=instance, reason="paused POC", **kwargs
    )
    request_acknowledge(request=request, actor=devops)
    approval_review_submit(
        request=request.approvals.get().approval, reviewer=manager, decision="approve"
    )
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    return request


def wait_for_state(request: CustomerRequest, *states: str, seconds: float = 60) -> CustomerRequest:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        request.refresh_from_db()
        if request.state in states:
            return request
        time.sleep(0.1)
    raise AssertionError(f"request {request.pk} still {request.state} after {seconds} s")


@pytest.mark.django_db(transaction=True)
def test_devops_runs_an_approved_suspension_and_the_request_ends_done(celery_worker, fleetsim):
    # given an approved suspension request of an active simulated instance
    instance = lifecycle_instance(fleetsim)
    request = approved("suspension", instance, details={"expected_return": "2027-03-01"})
    # when DevOps runs it
    request_execute(request=request, actor=make_persona("devops"))
    request.refresh_from_db()
    # then a suspend operation with the request's reference runs, the request is in progress
    assert request.state == RequestState.IN_PROGRESS
    operation = request.operation
    assert operation is not None
    assert operation.kind == OperationKind.SUSPEND
    assert operation.params["reference"] == f"request:{request.pk}"
    # and when the worker finished it, the request is done (the finished-operation hook)
    wait_for_state(request, RequestState.DONE)
    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED
    instance.refresh_from_db()
    assert instance.state == LifecycleState.SUSPENDED
    assert fleetsim.get_instance(instance.slug)["status"] == "TERMINATED"
    assert list(request.events.values_list("action", flat=True)) == [
        "submit",
        "acknowledge",
        "approve",
        "start",
        "finish",
    ]
    assert AuditEvent.objects.filter(action="request.finish").count() == 1
    # and running it again starts nothing: it is done
    with pytest.raises(RequestError, match="Only an approved request"):
        request_execute(request=request, actor=make_persona("devops"))
    assert Operation.objects.filter(kind=OperationKind.SUSPEND).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_operation_sends_the_request_back_to_approved_with_the_error(
    celery_worker, fleetsim
):
    # given an approved suspension, and GCP refusing the snapshot for good
    instance = lifecycle_instance(fleetsim)
    request = approved("suspension", instance, details={"expected_return": "2027-03-01"})
    fleetsim.set_fault("compute.disks.createSnapshot", status=403, message="no snapshot quota")
    try:
        # when DevOps runs it
        request_execute(request=request, actor=make_persona("devops"))
        # then the request goes back to approved, saying what failed
        wait_for_state(request, RequestState.APPROVED)
    finally:
        fleetsim.clear_faults()
    assert request.operation is not None
    assert request.operation.state == OperationState.FAILED
    assert f"operation #{request.operation_id} failed" in request.last_error
    assert "fail" in list(request.events.values_list("action", flat=True))
    instance.refresh_from_db()
    assert instance.state == LifecycleState.ACTIVE


@pytest.mark.django_db
def test_the_sweep_applies_an_outcome_whose_hook_was_lost(approved_suspension, people):
    # given a request in progress whose operation ended without the hook being heard
    request = approved_suspension
    request_execute(request=request, actor=people["devops"])
    request.refresh_from_db()
    Operation.objects.filter(pk=request.operation_id).update(state=OperationState.SUCCEEDED)
    # when the sweep runs (twice)
    first = requests_sweep()
    second = requests_sweep()
    # then the request is done once
    request.refresh_from_db()
    assert request.state == RequestState.DONE
    assert (first["finished"], second["finished"]) == (1, 0)
    assert request.events.filter(action="finish").count() == 1


@pytest.mark.django_db
def test_a_teardown_needs_the_typed_name_and_can_be_cancelled(
    policies, people, acme, django_capture_on_commit_callbacks, settings
):
    # given an approved teardown request, and the seed's one-hour warning
    settings.TEARDOWN_COUNTDOWN_SECONDS = 3600
    request = request_submit(
        requester=people["ce"],
        kind="teardown",
        instance=acme,
        reason="deal lost",
        details={"data_loss_acknowledged": True},
    )
    request_acknowledge(request=request, actor=people["devops"])
    with django_capture_on_commit_callbacks(execute=True):
        approval_review_submit(
            request=request.approvals.get().approval,
            reviewer=people["manager"],
            decision="approve",
        )
    request.refresh_from_db()
    # when DevOps types the wrong name; then refused, saying what to type, nothing changes
    with pytest.raises(RequestError, match="Type the instance's name exactly"):
        request_execute(request=request, actor=people["devops"], typed_name="acme")
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    assert not Operation.objects.filter(kind=OperationKind.TEARDOWN).exists()
    # when DevOps types it right; then the teardown waits out its countdown
    request_execute(request=request, actor=people["devops"], typed_name="acme-prod")
    request.refresh_from_db()
    assert request.state == RequestState.IN_PROGRESS
    teardown = request.operation
    assert teardown is not None
    assert teardown.state == OperationState.PENDING
    assert teardown.params["approved_by"][0]["username"] == "manager"
    assert teardown.next_retry_at is not None
    assert teardown.next_retry_at - teardown.created_at >= timedelta(minutes=59)
    # when DevOps cancels it; then nothing is deleted and the request is approved again
    request_teardown_cancel(request=request, actor=people["devops"], reason="customer renewed")
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    assert "cancelled" in request.last_error
    acme.refresh_from_db()
    assert acme.state == LifecycleState.ACTIVE
