"""Suspending, resuming and tearing down an instance: the rules, and the operations that do it.

The public API other apps call (contract with ``mi_requests``: keyword-only, each in one
transaction, each audited, each returning the operation it created or the one already
under way; every refusal is a ``ValidationError`` with a sentence a person can act on):

* :func:`instance_suspend` / :func:`instance_resume` queue a ``suspend`` / ``resume``
  operation (runners in ``instances/runners/lifecycle.py``);
* :func:`instance_teardown_schedule` queues a ``teardown`` that waits out a countdown
  (``TEARDOWN_COUNTDOWN_SECONDS``, default one hour) as a pending operation with a
  not-before; :func:`instance_teardown_cancel` cancels it until a worker starts it.

``reference`` is the caller's handle on its own row (``"request:<pk>"``), kept as
``operation.params["reference"]``; the same reference on the same instance gives back the
same operation, finished or not, so a caller that asks twice starts nothing twice. Without a
reference the action is a direct one by DevOps/Admin, and the audit says so. ``enqueue``
is ``operation_create``'s: how the operation is sent after commit (tests pass their own).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from instances.choices import (
    ACTIVE_OPERATION_STATES,
    LifecycleState,
    OperationKind,
    OperationState,
    StepState,
)
from instances.models import Instance, Operation
from instances.services.operations import (
    OPERATION_RUN_TASK,
    Enqueue,
    OperationConflict,
    operation_cancel_pending,
    operation_create,
)
from mi_admin.accounts.models import User
from mi_admin.audit.services import audit_record
from mi_admin.queue import task_enqueue
from mi_admin.ui.times import when_text

# States a teardown may start from: anything that may own GCP resources. A torn-down
# instance whose teardown failed part-way may be torn down again (see _teardown_allowed).
TEARDOWN_FROM = (
    LifecycleState.PROVISIONING,
    LifecycleState.ACTIVE,
    LifecycleState.SUSPENDED,
)
REFERENCE_MAX = 64


def _clean_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(f"Say why the instance is {what}.")
    return reason


def _clean_reference(reference: str) -> str:
    reference = (reference or "").strip()
    if len(reference) > REFERENCE_MAX:
        raise ValidationError(f"The reference is longer than {REFERENCE_MAX} characters.")
    return reference


def _key(kind: OperationKind, instance: Instance, reference: str) -> str:
    return f"{kind}:{instance.pk}:{reference}" if reference else ""


def _by_reference(kind: OperationKind, instance: Instance, reference: str) -> Operation | None:
    """The operation an earlier call with the same reference created, finished or not."""
    if not reference:
        return None
    return Operation.objects.filter(idempotency_key=_key(kind, instance, reference)).first()


def _under_way(kind: OperationKind, instance: Instance) -> Operation | None:
    return (
        Operation.objects.filter(kind=kind, instance=instance, state__in=ACTIVE_OPERATION_STATES)
        .order_by("pk")
        .first()
    )


def _locked(instance: Instance) -> Instance:
    # The row lock orders two people acting on one instance at once: the second one sees
    # the first one's operation (or its state change) and is told so.
    return Instance.objects.select_for_update().get(pk=instance.pk)


def _state_refusal(instance: Instance, action: str, allowed: Sequence[str]) -> ValidationError:
    wanted = " or ".join(LifecycleState(s).label.lower() for s in allowed)
    return ValidationError(
        f"{instance.slug} is {instance.get_state_display().lower()}; only an instance that is "
        f"{wanted} can be {action}."
    )


def _create(
    *,
    kind: OperationKind,
    instance: Instance,
    actor: User,
    params: dict[str, Any],
    reference: str,
    enqueue: Enqueue | None = None,
) -> Operation:
    extra: dict[str, Any] = {"enqueue": enqueue} if enqueue is not None else {}
    try:
        operation, _ = operation_create(
            kind=kind,
            actor=actor,
            instance=instance,
            params=params,
            idempotency_key=_key(kind, instance, reference),
            **extra,
        )
    except OperationConflict as exc:
        raise ValidationError(str(exc)) from exc
    return operation


def _request_audit(
    *, action: str, instance: Instance, actor: User, operation: Operation, **after: Any
) -> None:
    reference = str(operation.params.get("reference", ""))
    audit_record(
        action=action,
        actor=actor,
        obj=instance,
        after={
            "operation": operation.pk,
            "reference": reference,
            # Run straight from the instance page (no approved request behind it).
            "direct": not reference,
            **after,
        },
    )


def instance_suspend(
    *,
    instance: Instance,
    actor: User,
    reason: str,
    reference: str = "",
    enqueue: Enqueue | None = None,
) -> Operation:
    """Queue the suspension: snapshot the data disk, stop monitoring, stop the VM, keep only
    the newest suspension snapshot. Only an active instance with a data disk."""
    reason = _clean_reason(reason, "suspended")
    reference = _clean_reference(reference)
    with transaction.atomic():
        instance = _locked(instance)
        found = _by_reference(OperationKind.SUSPEND, instance, reference) or _under_way(
            OperationKind.SUSPEND, instance
        )
        if found is not None:
            return found
        if instance.state != LifecycleState.ACTIVE:
            raise _state_refusal(instance, "suspended", [LifecycleState.ACTIVE])
        if not instance.data_disk:
            raise ValidationError(
                f"{instance.slug} has no data disk recorded: there is nothing to snapshot, "
                "so it is not suspended (record its data disk first)."
            )
        operation = _create(
            kind=OperationKind.SUSPEND,
            instance=instance,
            actor=actor,
            params={"reason": reason, "reference": reference},
            reference=reference,
            enqueue=enqueue,
        )
        _request_audit(
            action="instance.suspend_requested",
            instance=instance,
            actor=actor,
            operation=operation,
            reason=reason,
        )
    return operation


def instance_resume(
    *,
    instance: Instance,
    actor: User,
    reason: str,
    reference: str = "",
    enqueue: Enqueue | None = None,
) -> Operation:
    """Queue the resumption: start the VM, wait for ``/healthz`` (deadline
    ``RESUME_HEALTH_DEADLINE_SECONDS``), then active, probed and held to the SLAs again."""
    reason = _clean_reason(reason, "resumed")
    reference = _clean_reference(reference)
    with transaction.atomic():
        instance = _locked(instance)
        found = _by_reference(OperationKind.RESUME, instance, reference) or _under_way(
            OperationKind.RESUME, instance
        )
        if found is not None:
            return found
        if instance.state != LifecycleState.SUSPENDED:
            raise _state_refusal(instance, "resumed", [LifecycleState.SUSPENDED])
        operation = _create(
            kind=OperationKind.RESUME,
            instance=instance,
            actor=actor,
            params={
                "reason": reason,
                "reference": reference,
                "deadline_seconds": float(settings.RESUME_HEALTH_DEADLINE_SECONDS),
                "poll_seconds": float(settings.RESUME_POLL_SECONDS),
            },
            reference=reference,
            enqueue=enqueue,
        )
        _request_audit(
            action="instance.resume_requested",
            instance=instance,
            actor=actor,
            operation=operation,
            reason=reason,
        )
    return operation


def _teardown_allowed(instance: Instance) -> bool:
    if instance.state in TEARDOWN_FROM:
        return True
    # A teardown that failed part-way left the instance torn down with resources behind.
    return instance.state == LifecycleState.TORN_DOWN and not (
        Operation.objects.filter(
            instance=instance, kind=OperationKind.TEARDOWN, state=OperationState.SUCCEEDED
        ).exists()
    )


def _person(user: User) -> dict[str, Any]:
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name()}


def teardown_countdown() -> dt.timedelta:
    return dt.timedelta(seconds=float(settings.TEARDOWN_COUNTDOWN_SECONDS))


def instance_teardown_schedule(
    *,
    instance: Instance,
    actor: User,
    reason: str,
    typed_name: str,
    approved_by: Sequence[User],
    reference: str,
    delay: dt.timedelta | None = None,
    enqueue: Enqueue | None = None,
) -> Operation:
    """Queue a teardown that deletes nothing before ``now + delay`` (default
    ``TEARDOWN_COUNTDOWN_SECONDS``) and can be cancelled until then.

    Refused unless the operator typed the instance's exact name, someone other than the
    operator approved it (``approved_by``), and ``reference`` names that approval."""
    reason = _clean_reason(reason, "torn down")
    reference = _clean_reference(reference)
    if not reference:
        raise ValidationError(
            "A teardown needs the reference of its approval (an approved teardown request)."
        )
    with transaction.atomic():
        instance = _locked(instance)
        found = _by_reference(OperationKind.TEARDOWN, instance, reference)
        if found is not None:
            return found
        if (typed_name or "").strip() != instance.slug:
            raise ValidationError(
                f"Type the instance's name exactly ({instance.slug}) to confirm the teardown; "
                f"you typed {(typed_name or '').strip()!r}. Nothing was scheduled."
            )
        approvers = list({user.pk: user for user in approved_by}.values())
        if not approvers:
            raise ValidationError("A teardown needs an approval; nobody approved this one.")
        if all(user.pk == actor.pk for user in approvers):
            raise ValidationError(
                "A teardown needs an approval by someone other than the person running it; "
                "you cannot approve your own teardown."
            )
        under_way = _under_way(OperationKind.TEARDOWN, instance)
        if under_way is not None:
            return under_way
        if not _teardown_allowed(instance):
            raise _state_refusal(instance, "torn down", TEARDOWN_FROM)
        delay = teardown_countdown() if delay is None else delay
        if delay < dt.timedelta(0):
            raise ValidationError("The countdown cannot be negative.")
        not_before = timezone.now() + delay
        seconds = delay.total_seconds()

        def after_countdown(operation_id: int, task_id: str) -> None:
            # The message arrives when the countdown ends; if it is lost, the dispatcher
            # sends the row once its not-before (next_retry_at) has passed.
            task_enqueue(OPERATION_RUN_TASK, operation_id, task_id=task_id, countdown=seconds)

        operation = _create(
            kind=OperationKind.TEARDOWN,
            instance=instance,
            actor=actor,
            params={
                "reason": reason,
                "reference": reference,
                "typed_name": instance.slug,
                "approved_by": [_person(user) for user in approvers],
                "not_before": not_before.isoformat(),
                "countdown_seconds": seconds,
            },
            reference=reference,
            enqueue=enqueue or after_countdown,
        )
        # Pending with a not-before: no claim succeeds and the dispatcher sends nothing
        # before it (operation_claim and operation_dispatch_pending both read next_retry_at).
        operation.next_retry_at = not_before
        operation.dispatched_at = not_before
        operation.waiting_for = (
            f"Teardown countdown: nothing is deleted before {when_text(not_before, seconds=True)}"
        )
        operation.save(update_fields=["next_retry_at", "dispatched_at", "waiting_for"])
        _request_audit(
            action="instance.teardown_scheduled",
            instance=instance,
            actor=actor,
            operation=operation,
            reason=reason,
            approved_by=[_person(user) for user in approvers],
            not_before=not_before.isoformat(),
        )
    return operation


def teardown_cancellable(operation: Operation) -> bool:
    """Still in its countdown: pending, no worker on it, nothing deleted."""
    return (
        operation.kind == OperationKind.TEARDOWN
        and operation.state == OperationState.PENDING
        and not operation.lease_owner
    )


def instance_teardown_cancel(*, operation: Operation, actor: User, reason: str) -> Operation:
    """Cancel a teardown during its countdown; nothing is deleted. Refused once a worker
    started it (the countdown is over)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why the teardown is cancelled.")
    if operation.kind != OperationKind.TEARDOWN:
        raise ValidationError(f"Operation #{operation.pk} is not a teardown.")
    with transaction.atomic():
        locked = Operation.objects.select_for_update().get(pk=operation.pk)
        if locked.state == OperationState.CANCELLED:
            return locked
        deleting = locked.steps.filter(name__startswith="Delete", state=StepState.DONE).exists()
        if not teardown_cancellable(locked) or deleting:
            raise ValidationError(
                f"Teardown #{locked.pk} is {locked.get_state_display().lower()}: its countdown "
                "is over and deleting has begun or ended, so it can no longer be cancelled."
            )
        if not operation_cancel_pending(
            operation=locked,
            actor=actor,
            reason=reason,
            result={"cancelled_by": _person(actor), "cancel_reason": reason},
        ):
            raise ValidationError(f"Teardown #{locked.pk} has just started; too late to cancel.")
        assert locked.instance is not None
        audit_record(
            action="instance.teardown_cancelled",
            actor=actor,
            obj=locked.instance,
            after={"operation": locked.pk, "reason": reason},
        )
    return locked


@dataclass(frozen=True)
class TeardownApproval:
    """What an approved teardown request says: which instance, who approved, why."""

    reference: str
    instance_slug: str
    approved_by: tuple[User, ...]
    reason: str = ""


TeardownApprovalResolver = Callable[[str], "TeardownApproval | None"]
_RESOLVERS: list[TeardownApprovalResolver] = []


def register_teardown_approval_resolver(resolver: TeardownApprovalResolver) -> None:
    """The app that owns approvals of teardowns (``mi_requests``) answers, for a reference,
    the approved teardown it names, or None (from its ``AppConfig.ready()``); so the
    confirmation page opens only from an approval, and instances never imports that app."""
    if resolver not in _RESOLVERS:
        _RESOLVERS.append(resolver)


def unregister_teardown_approval_resolver(resolver: TeardownApprovalResolver) -> None:
    """Forget a resolver (tests; an app being unloaded)."""
    if resolver in _RESOLVERS:
        _RESOLVERS.remove(resolver)


def teardown_approval_for(*, reference: str) -> TeardownApproval | None:
    """The approved teardown ``reference`` names, asked of every registered resolver."""
    reference = (reference or "").strip()
    if not reference:
        return None
    for resolver in list(_RESOLVERS):
        approval = resolver(reference)
        if approval is not None:
            return approval
    return None
