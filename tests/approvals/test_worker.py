"""The expiry beat entry names a task the real worker runs: a due request expires there,
once, however many times the message arrives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings

from mi_admin.approvals.choices import RequestState
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.approvals.tasks import approval_requests_expire_task
from mi_admin.audit.models import AuditEvent
from mi_admin.celery import app as celery_app
from tests.approvals.conftest import MANAGER_STEP, file_request, make_person, make_policy

TASK = approval_requests_expire_task.name


def _wait_for(condition: Callable[[], bool], attempts: int = 200) -> None:
    """A bounded poll; each attempt waits on the worker's own answer (inspect), not a sleep."""
    for _ in range(attempts):
        if condition():
            return
    raise AssertionError("condition not met")


def _taken(worker: str) -> int:
    stats: dict[str, Any] = (
        celery_app.control.inspect(destination=[worker], timeout=1.0).stats() or {}
    )
    return int(stats.get(worker, {}).get("total", {}).get(TASK, 0))


def _running(worker: str) -> int:
    active = celery_app.control.inspect(destination=[worker], timeout=1.0).active() or {}
    return sum(1 for task in active.get(worker, []) if task["name"] == TASK)


@pytest.mark.django_db(transaction=True)
def test_the_worker_expires_a_due_request_once(celery_worker, decisions):
    # given a request past its lifetime, and the beat entry that should expire it
    assert settings.CELERY_BEAT_SCHEDULE["approvals-expire"]["task"] == TASK
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    past = timedelta(hours=25)
    ApprovalRequest.objects.filter(pk=request.pk).update(
        created_at=request.created_at - past, expires_at=request.expires_at - past
    )
    before = _taken(celery_worker)
    # when the message arrives twice (a redelivery, an overlapping beat)
    approval_requests_expire_task.delay()
    approval_requests_expire_task.delay()
    # then, once the worker took and finished both, the request expired exactly once
    _wait_for(lambda: _taken(celery_worker) - before == 2 and _running(celery_worker) == 0)
    request.refresh_from_db()
    assert request.state == RequestState.EXPIRED
    expired = AuditEvent.objects.filter(action="approval.expired", object_id=str(request.pk))
    assert expired.count() == 1
