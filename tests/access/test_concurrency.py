"""Activation requested many times at once, each on its own database connection: one grant
gets one operation, and two grants on one instance get one each (the operation's subject
is part of its uniqueness)."""

from __future__ import annotations

from functools import partial

import pytest
from django.utils import timezone

from access.choices import GrantState
from access.models import AccessGrant
from access.services import access_grant_activate_if_due
from instances.choices import OperationKind
from instances.models import Operation
from instances.services.operations import operation_create
from tests.access.conftest import make_instance, request_grant
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


def _no_send(operation_id: int, task_id: str) -> None:
    """No broker in these tests: the rows are what is counted."""


def test_ten_concurrent_activations_of_one_grant_make_one_operation(persona):
    # given an approved grant (its operation not yet queued)
    grant = request_grant(persona("devops"), make_instance())
    AccessGrant.objects.filter(pk=grant.pk).update(
        state=GrantState.APPROVED, approved_at=timezone.now()
    )
    # when ten callers (the eta task, the sweep, redeliveries) activate it at once, each
    # with its own key
    subject = f"access.grant:{grant.pk}"
    results = run_at_once(
        *[
            partial(
                operation_create,
                kind=OperationKind.GRANT,
                actor=None,
                instance=grant.instance,
                subject=subject,
                idempotency_key=f"caller-{i}",
                enqueue=_no_send,
            )
            for i in range(10)
        ]
    )
    # then there is one operation, and every caller got it
    assert not [r for r in results if isinstance(r, Exception)]
    operation = Operation.objects.get(kind=OperationKind.GRANT, subject=subject)
    assert {r[0].pk for r in results} == {operation.pk}  # type: ignore[index]
    # and the service's own activation, ten times at once, adds none
    results = run_at_once(*[partial(access_grant_activate_if_due, grant_pk=grant.pk)] * 10)
    assert not [r for r in results if isinstance(r, Exception)]
    assert Operation.objects.filter(subject=subject).count() == 1


def test_two_grants_on_one_instance_get_two_operations_even_at_once(persona):
    # given two grants on the same instance
    instance = make_instance()
    grants = [request_grant(persona(who), instance) for who in ("devops", "admin")]
    # when both activations are created at the same moment
    results = run_at_once(
        *[
            partial(
                operation_create,
                kind=OperationKind.GRANT,
                actor=None,
                instance=instance,
                subject=f"access.grant:{g.pk}",
                enqueue=_no_send,
            )
            for g in grants
        ]
    )
    # then they do not fold into one: two operations, one per grant
    assert not [r for r in results if isinstance(r, Exception)]
    operations = Operation.objects.filter(kind=OperationKind.GRANT, instance=instance)
    assert sorted(operations.values_list("subject", flat=True)) == sorted(
        f"access.grant:{g.pk}" for g in grants
    )
