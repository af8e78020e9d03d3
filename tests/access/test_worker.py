"""Grants end to end: the approval engine, a real Celery worker, and the real GCP adapter
against the fleet simulator, whose IAM policy is read back to see what GCP would enforce."""

from __future__ import annotations

import threading
from datetime import UTC, timedelta
from functools import partial

import pytest
from django.db import connection
from django.utils import timezone

from access.choices import GrantState
from access.models import AccessGrant
from access.services import access_grant_end, access_grant_extend_request, access_grants_sweep
from instances.choices import OperationKind, OperationState
from instances.models import Instance, Operation
from instances.services.operations import operation_create
from instances.tasks import operation_run
from mi_admin.accounts.models import User
from mi_admin.approvals.choices import Decision
from mi_admin.approvals.services import approval_review_submit
from mi_admin.audit.models import AuditEvent
from tests.access.conftest import (
    bindings_of,
    grant_state,
    make_instance,
    request_grant,
    sim_vm,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROLE = "roles/compute.osAdminLogin"


def _approve(grant: AccessGrant, manager: User) -> None:
    assert grant.approval_request is not None
    approval_review_submit(
        request=grant.approval_request, reviewer=manager, decision=Decision.APPROVE
    )


def _in_state(grant: AccessGrant, state: GrantState) -> bool:
    return grant_state(grant) == state


def _settled(grant: AccessGrant) -> bool:
    """Every operation of the grant finished."""
    return not Operation.objects.filter(
        subject=f"access.grant:{grant.pk}", finished_at__isnull=True
    ).exists()


def _active_grant(fleetsim, persona, instance: Instance | None = None) -> AccessGrant:
    instance = instance or make_instance()
    sim_vm(fleetsim, instance)
    grant = request_grant(persona("devops"), instance)
    _approve(grant, persona("manager"))
    wait_until(lambda: grant_state(grant) == GrantState.ACTIVE, what="grant active")
    return grant


def _removed_and_verified(grant: AccessGrant) -> None:
    wait_until(
        lambda: (
            grant_state(grant) is not None
            and grant.binding_verified_removed_at is not None
            and _settled(grant)
        ),
        what="binding removal verified",
    )
    assert bindings_of(grant.instance, grant) == []


def test_an_approved_grant_binds_the_role_until_its_expiry(celery_worker, fleetsim, persona):
    # given devops asking for 30 min of SSH on an instance with a VM
    instance = make_instance()
    sim_vm(fleetsim, instance)
    grant = request_grant(persona("devops"), instance)
    # when a manager approves it
    _approve(grant, persona("manager"))
    # then the worker activates it: the clock starts at activation, not at the request
    wait_until(lambda: grant_state(grant) == GrantState.ACTIVE, what="grant active")
    assert grant.activated_at is not None
    assert grant.expires_at == grant.activated_at + timedelta(minutes=30)
    assert grant.activated_at >= grant.created_at.replace(microsecond=0)
    assert grant.binding_verified_at is not None
    # and GCP holds the binding with the expiry condition (policy v3, user:<email>)
    bound = bindings_of(instance, grant)
    assert [b.role for b in bound] == [ROLE]
    assert bound[0].members == ("user:devops@example.com",)
    stamp = grant.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert bound[0].condition is not None
    assert bound[0].condition.expression == f'request.time < timestamp("{stamp}")'
    operation = Operation.objects.get(kind=OperationKind.GRANT, subject=f"access.grant:{grant.pk}")
    assert operation.state == OperationState.SUCCEEDED
    assert "Read the policy back" in [s.name for s in operation.steps.all()]


def test_a_manager_revokes_and_the_binding_is_gone_and_verified(celery_worker, fleetsim, persona):
    # given an active grant
    grant = _active_grant(fleetsim, persona)
    # when a manager revokes it with a reason
    access_grant_end(
        grant=grant, actor=persona("manager"), state=GrantState.REVOKED, reason="incident over"
    )
    # then the binding is removed, and a read of the policy verified it
    _removed_and_verified(grant)
    assert grant.state == GrantState.REVOKED
    actions = list(
        AuditEvent.objects.filter(object_id=str(grant.pk), action__startswith="access.grant.")
        # the holder's messages go out beside these, in no fixed order (test_notifications*)
        .exclude(action="access.grant.notified")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "access.grant.requested",
        "access.grant.approved",
        "access.grant.activating",
        "access.grant.activated",
        "access.grant.revoked",
        "access.grant.binding_removed",
    ]


def test_the_holder_ends_early_and_the_binding_is_gone(celery_worker, fleetsim, persona):
    grant = _active_grant(fleetsim, persona)
    # when devops says "I'm done"
    access_grant_end(grant=grant, actor=persona("devops"), state=GrantState.ENDED_EARLY)
    # then it is gone and verified
    _removed_and_verified(grant)
    assert grant.state == GrantState.ENDED_EARLY


def test_the_expiry_task_ends_a_grant_at_its_expiry(celery_worker, fleetsim, persona):
    # given a grant of a few seconds (the task is queued with eta = expires_at)
    instance = make_instance()
    sim_vm(fleetsim, instance)
    grant = request_grant(persona("devops"), instance, duration=timedelta(seconds=3))
    _approve(grant, persona("manager"))
    wait_until(lambda: grant_state(grant) == GrantState.ACTIVE, what="grant active")
    # when its expiry comes (no sweep runs in this test)
    # then the worker's expiry task ends it and the removal is verified
    _removed_and_verified(grant)
    assert grant.state == GrantState.EXPIRED
    assert grant.ended_at is not None
    assert grant.expires_at is not None
    assert grant.ended_at >= grant.expires_at


def test_the_sweep_ends_a_grant_whose_expiry_passed_while_no_worker_ran(
    celery_worker, fleetsim, persona
):
    # given an active grant whose expiry passed while nothing ran (its eta'd task lost)
    grant = _active_grant(fleetsim, persona)
    past = timezone.now() - timedelta(minutes=1)
    AccessGrant.objects.filter(pk=grant.pk).update(expires_at=past)
    assert bindings_of(grant.instance, grant) != []
    # when the minute sweep runs
    counts = access_grants_sweep()
    # then it expired the grant and the worker removed and verified the binding
    assert counts["expired"] == 1
    _removed_and_verified(grant)
    assert grant.state == GrantState.EXPIRED


def test_a_scheduled_grant_activates_at_its_start(celery_worker, fleetsim, persona):
    # given a grant scheduled a few seconds ahead, approved at once
    instance = make_instance()
    sim_vm(fleetsim, instance)
    start = timezone.now() + timedelta(seconds=3)
    grant = request_grant(persona("devops"), instance, start=start)
    _approve(grant, persona("manager"))
    grant.refresh_from_db()
    assert grant.state == GrantState.APPROVED
    # then it activates at its start, not before, and its clock starts then
    wait_until(lambda: grant_state(grant) == GrantState.ACTIVE, what="scheduled grant active")
    assert grant.activated_at is not None
    assert grant.activated_at >= grant.requested_start.replace(microsecond=0)
    assert bindings_of(instance, grant) != []


def test_an_etag_conflict_is_read_again_and_retried(celery_worker, fleetsim, persona):
    # given GCP answering the next setIamPolicy with a 409 (someone changed the policy)
    instance = make_instance()
    sim_vm(fleetsim, instance)
    fleetsim.set_fault("compute.instances.setIamPolicy", status=409, reason="aborted", count=1)
    grant = request_grant(persona("devops"), instance)
    # when the grant is approved
    _approve(grant, persona("manager"))
    # then activation re-read and retried, and the binding is there
    wait_until(lambda: grant_state(grant) == GrantState.ACTIVE, what="grant active")
    assert fleetsim.calls("compute.instances.setIamPolicy") == 2
    assert bindings_of(instance, grant) != []


def test_two_grants_on_one_instance_each_get_their_binding(celery_worker, fleetsim, persona):
    # given one instance and two people asking at the same time
    instance = make_instance()
    sim_vm(fleetsim, instance)
    first = request_grant(persona("devops"), instance)
    second = request_grant(persona("admin"), instance)
    # when both are approved
    _approve(first, persona("manager"))
    _approve(second, persona("manager"))
    # then each has its own operation and binding (they do not fold into one)
    for grant in (first, second):
        wait_until(partial(_in_state, grant, GrantState.ACTIVE), what="both active")
        assert len(bindings_of(instance, grant)) == 1
    assert Operation.objects.filter(kind=OperationKind.GRANT, instance=instance).count() == 2
    # and revoking one leaves the other's binding
    access_grant_end(grant=first, actor=persona("manager"), state=GrantState.REVOKED, reason="x")
    _removed_and_verified(first)
    assert len(bindings_of(instance, second)) == 1


def test_a_revoke_while_the_binding_is_being_added_leaves_no_binding(
    celery_worker, fleetsim, persona
):
    # given GCP slow to write the policy, so the revoke lands mid-activation
    instance = make_instance()
    sim_vm(fleetsim, instance)
    fleetsim.set_fault("compute.instances.setIamPolicy", latency=2.0, count=1)
    grant = request_grant(persona("devops"), instance)
    _approve(grant, persona("manager"))
    wait_until(
        lambda: AccessGrant.objects.get(pk=grant.pk).activated_at is not None,
        what="activation under way",
    )
    # when a manager revokes while the binding is being added
    access_grant_end(grant=grant, actor=persona("manager"), state=GrantState.REVOKED, reason="r")
    # then, once everything settled, no binding is left and its removal was verified
    _removed_and_verified(grant)
    assert grant.state == GrantState.REVOKED
    operation = Operation.objects.get(kind=OperationKind.GRANT, subject=f"access.grant:{grant.pk}")
    assert operation.result == {"activated": False, "removed": True}


def test_approve_racing_revoke_leaves_no_binding(celery_worker, fleetsim, persona):
    # given a pending grant
    instance = make_instance()
    sim_vm(fleetsim, instance)
    grant = request_grant(persona("devops"), instance)
    manager, admin = persona("manager"), persona("admin")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def approve() -> None:
        try:
            barrier.wait(timeout=10)
            _approve(grant, manager)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def revoke() -> None:
        try:
            barrier.wait(timeout=10)
            access_grant_end(
                grant=AccessGrant.objects.get(pk=grant.pk),
                actor=admin,
                state=GrantState.REVOKED,
                reason="changed my mind",
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    # when the approval and the revoke happen at once
    threads = [threading.Thread(target=approve), threading.Thread(target=revoke)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # then both succeeded, the grant is revoked, and once settled no binding is left
    assert errors == []
    wait_until(lambda: _settled(grant), what="operations finished")
    assert grant_state(grant) == GrantState.REVOKED
    assert bindings_of(instance, grant) == []


def test_an_activation_after_the_grant_ended_adds_nothing(fleetsim, persona):
    # given an approved grant whose activation operation is created but not yet run
    instance = make_instance()
    sim_vm(fleetsim, instance)
    grant = request_grant(persona("devops"), instance)
    AccessGrant.objects.filter(pk=grant.pk).update(
        state=GrantState.APPROVED, approved_at=timezone.now()
    )
    operation, _ = operation_create(
        kind=OperationKind.GRANT,
        actor=None,
        instance=instance,
        subject=f"access.grant:{grant.pk}",
        params={"grant": grant.pk},
        enqueue=lambda operation_id, task_id: None,
    )
    # and a manager revokes before it runs
    access_grant_end(grant=grant, actor=persona("manager"), state=GrantState.REVOKED, reason="r")
    fleetsim.reset_stats()
    # when the activation runs (the task's body, in this process)
    operation_run(operation.pk)
    # then it re-checked the grant under its lock and wrote nothing to the policy
    operation.refresh_from_db()
    assert operation.result == {"activated": False, "state": GrantState.REVOKED}
    assert fleetsim.calls("compute.instances.setIamPolicy") == 0
    assert bindings_of(instance, grant) == []


def test_an_approved_extension_replaces_the_condition(celery_worker, fleetsim, persona):
    # given an active grant
    grant = _active_grant(fleetsim, persona)
    assert grant.expires_at is not None
    old_expiry = grant.expires_at
    # when devops asks for 20 more minutes and a manager approves
    access_grant_extend_request(
        grant=grant, requester=persona("devops"), extra=timedelta(minutes=20), justification="j"
    )
    assert grant.extension_approval is not None
    approval_review_submit(
        request=grant.extension_approval, reviewer=persona("manager"), decision=Decision.APPROVE
    )
    # then the grant lasts 20 minutes longer, and its one binding carries the new expiry
    wait_until(
        lambda: AccessGrant.objects.get(pk=grant.pk).expires_at != old_expiry, what="extended"
    )
    grant.refresh_from_db()
    assert grant.expires_at == old_expiry + timedelta(minutes=20)
    assert grant.extension_approval is None
    stamp = grant.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    bound = bindings_of(grant.instance, grant)
    assert len(bound) == 1
    assert bound[0].condition is not None
    assert bound[0].condition.expression == f'request.time < timestamp("{stamp}")'
    assert grant.state == GrantState.ACTIVE
