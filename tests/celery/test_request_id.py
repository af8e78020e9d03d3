"""The request id travels with Celery tasks: audit rows the worker writes name the web request
that queued the work (mi_admin.celery_signals), on a real worker."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from celery import shared_task
from celery.signals import task_postrun, task_prerun

from instances.choices import OperationKind
from instances.models import Instance, Operation
from instances.services.operations import operation_create
from mi_admin.audit.context import current, request_context
from mi_admin.audit.models import AuditEvent
from mi_admin.celery_signals import HEADER
from tests.instances.factories import make_simulated_instance

pytestmark = pytest.mark.django_db(transaction=True)


def _instance(fleetsim, slug: str) -> Instance:
    instance = make_simulated_instance(slug)
    fleetsim.upsert_instances(
        [
            {
                "slug": slug,
                "project": instance.gcp_project,
                "zone": instance.gcp_zone,
                "name": instance.vm_name,
                "status": "RUNNING",
                "version": "6.9.1",
            }
        ]
    )
    return instance


def _finished_event(operation: Operation, seconds: float = 30) -> AuditEvent:
    """The audit row the worker writes when it finishes the operation (bounded poll)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        event = (
            AuditEvent.objects.filter(
                object_type="instances.operation", object_id=str(operation.pk)
            )
            .exclude(action__endswith=".requested")
            .first()
        )
        if event is not None:
            return event
        time.sleep(0.1)
    raise AssertionError(f"operation {operation.pk} not finished after {seconds} s")


def test_audit_rows_written_by_the_worker_carry_the_request_id(
    celery_worker, fleetsim, client_for, settings
):
    # given an instance whose VM the simulator serves, and devops on its page behind our
    # proxy (whose X-Request-ID is believed)
    settings.TRUSTED_PROXY_COUNT = 1
    instance = _instance(fleetsim, "acme-prod")
    request_id = f"req-{uuid.uuid4().hex}"
    # when devops asks for a sync in a request with a known id (the task is queued on commit)
    response = client_for("devops").post(
        f"/instances/{instance.slug}/sync/",
        {"idempotency_key": str(uuid.uuid4())},
        HTTP_X_REQUEST_ID=request_id,
    )
    assert response.status_code == 302
    operation = Operation.objects.get(kind=OperationKind.SYNC, instance=instance)
    finished = _finished_event(operation)
    # then the rows the worker wrote carry the request's id, like the one the request wrote
    requested = AuditEvent.objects.get(action="operation.sync.requested")
    assert requested.request_id == request_id
    assert finished.action == "operation.sync.succeeded"
    assert finished.request_id == request_id
    changed = AuditEvent.objects.get(action="instance.inventory_changed")
    assert changed.request_id == request_id


def test_work_queued_outside_a_request_carries_no_request_id(celery_worker, fleetsim, devops):
    # given an earlier task that ran for a request (so a worker thread held an id once)
    first = _instance(fleetsim, "acme-prod")
    request_id = f"req-{uuid.uuid4().hex}"
    with request_context(request_id=request_id):
        earlier, _ = operation_create(kind=OperationKind.SYNC, actor=devops, instance=first)
    assert _finished_event(earlier).request_id == request_id
    # when work is queued with no request around it (a beat, a command)
    second = _instance(fleetsim, "globex-prod")
    later, _ = operation_create(kind=OperationKind.SYNC, actor=devops, instance=second)
    # then the worker's rows name no request (an id is never invented or carried over)
    assert _finished_event(later).request_id == ""


seen: list[str] = []


@shared_task
def remember_request_id() -> None:
    """A task that notes which request id the audit trail would record while it runs."""
    seen.append(current().request_id)


@pytest.mark.django_db(transaction=False)
def test_the_id_is_restored_for_the_task_and_cleared_after_it():
    # given a worker thread between tasks, about to run one whose message carries an id
    # (Celery's own request stack and signals, as the worker drives them)
    assert current().request_id == ""
    task: Any = remember_request_id  # the stubs omit push_request's keyword arguments
    task.push_request(id="task-1", **{HEADER: "req-0123456789"})
    try:
        # when the task starts
        task_prerun.send(sender=task, task_id="task-1", task=task, args=(), kwargs={})
        during = current().request_id
        # and ends
        task_postrun.send(sender=task, task_id="task-1", task=task, args=(), kwargs={})
    finally:
        task.pop_request()
    # then it ran under that id, and the thread holds none afterwards (no leak to the next)
    assert during == "req-0123456789"
    assert current().request_id == ""


@pytest.mark.django_db(transaction=False)
def test_an_eager_run_sees_the_id_of_its_headers():
    seen.clear()
    remember_request_id.apply(headers={HEADER: "req-0123456789"})
    assert seen == ["req-0123456789"]


@pytest.mark.django_db(transaction=False)
def test_a_task_run_inside_a_request_keeps_that_request_id():
    # given a request (eager runs, as in tests and commands, publish no message)
    seen.clear()
    with request_context(request_id="req-caller-0001"):
        # when a task without the header runs inside it
        remember_request_id.apply()
    # then it ran under the caller's id, untouched
    assert seen == ["req-caller-0001"]
