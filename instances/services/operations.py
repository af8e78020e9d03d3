"""Operations: creating them, sending them to the broker, leases, retries, the step log.

The Operation row is the outbox. :func:`operation_create` writes it (and its audit event) in
the caller's transaction and sends it after commit; if the broker is down the row stays
undispatched and :func:`operation_dispatch_pending` (beat, every few seconds) sends it when
the broker is back. A worker runs an operation only after :func:`operation_claim` took its
lease with a conditional UPDATE, so two deliveries never run it at once; the worker renews
the lease while it runs (:class:`LeaseKeeper`). A lease that lapsed means the worker died:
the dispatcher sends the operation again and the next worker resumes it, skipping the steps
already done (:func:`step_run`).

At most one pending or running operation per kind and target, and one mutating operation per
instance, is enforced by partial unique indexes; a request that loses the race gets the
winner's operation.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from instances.choices import (
    ACTIVE_OPERATION_STATES,
    MUTATING_OPERATION_KINDS,
    OperationKind,
    OperationState,
    StepState,
)
from instances.models import Instance, Operation, OperationStep
from mi_admin.accounts.models import User
from mi_admin.audit.services import audit_record
from mi_admin.queue import task_enqueue

logger = logging.getLogger(__name__)

Enqueue = Callable[[int, str], None]
FinishedListener = Callable[[Operation], None]

# Called after an operation's outcome is committed (see register_finished_listener).
_FINISHED_LISTENERS: list[FinishedListener] = []


def register_finished_listener(listener: FinishedListener) -> None:
    """A domain app asks to hear when any operation ends (from its ``AppConfig.ready()``),
    so instances never imports the app: a rollout advances when an upgrade ends, a request
    moves on when its operation ends.

    The listener gets the finished operation after the commit; it must filter the kinds it
    cares about and be idempotent. A commit hook is lost if the process dies right after
    the commit, so whatever a listener does must also be done by a periodic sweep of its
    app: the listener makes it prompt, the sweep makes it certain. A listener that raises is
    logged and does not affect the operation or the other listeners.
    """
    if listener not in _FINISHED_LISTENERS:
        _FINISHED_LISTENERS.append(listener)


def _notify_finished(operation: Operation) -> None:
    for listener in list(_FINISHED_LISTENERS):
        try:
            listener(operation)
        except Exception:
            logger.exception("operation %s: finished listener %r failed", operation.pk, listener)


class OperationDeferred(Exception):
    """The operation cannot start yet (e.g. every upgrade slot is taken): put it back as
    pending and ask again in ``seconds``. Not an error; it keeps its target meanwhile."""

    def __init__(self, reason: str, *, seconds: float) -> None:
        super().__init__(reason)
        self.seconds = seconds


class OperationFailed(Exception):
    """The runner failed the operation for a stated reason, keeping ``result`` (e.g. the
    health evidence gathered before it failed)."""

    def __init__(self, message: str, *, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


class OperationConflict(Exception):
    """Another operation holds the target (a different mutating kind, or a reused key)."""

    def __init__(self, message: str, *, operation: Operation | None = None) -> None:
        super().__init__(message)
        self.operation = operation


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def lease_seconds() -> float:
    return _setting("OPERATION_LEASE_SECONDS", 60)


OPERATION_RUN_TASK = "instances.tasks.operation_run"


def _enqueue_operation(operation_id: int, task_id: str) -> None:
    # Creating an operation queues its task, by name (mi_admin.queue).
    task_enqueue(OPERATION_RUN_TASK, operation_id, task_id=task_id)


def _send(operation: Operation, enqueue: Enqueue, countdown: float = 0) -> bool:
    """Hand the operation to the broker; False (logged, row marked unsent) if it is down.

    Any failure of the broker leaves the row for the dispatcher, which is the point of the
    outbox, so every exception is caught here, not only kombu's.
    """
    task_id = uuid.uuid4().hex
    try:
        if countdown:
            task_enqueue(OPERATION_RUN_TASK, operation.pk, task_id=task_id, countdown=countdown)
        else:
            enqueue(operation.pk, task_id)
    except Exception:
        logger.warning(
            "operation %s: could not reach the broker; the dispatcher will send it",
            operation.pk,
            exc_info=True,
        )
        Operation.objects.filter(pk=operation.pk, dispatched_at=operation.dispatched_at).update(
            dispatched_at=None
        )
        operation.dispatched_at = None
        return False
    Operation.objects.filter(pk=operation.pk).update(celery_task_id=task_id)
    operation.celery_task_id = task_id
    return True


def _active_on_target(*, instance: Instance | None) -> Q:
    return Q(instance=instance, state__in=ACTIVE_OPERATION_STATES)


def _existing(
    *, key: str, kind: OperationKind, instance: Instance | None, subject: str = ""
) -> Operation | None:
    """The operation this request repeats: same key (finished or not) on the same target
    and subject, or one of the same kind still under way there."""
    same = Operation.objects.filter(kind=kind, instance=instance, subject=subject)
    found = same.filter(idempotency_key=key).first()
    if found is None:
        found = same.filter(state__in=ACTIVE_OPERATION_STATES).order_by("pk").first()
    return found


def operation_create(
    *,
    kind: OperationKind,
    actor: User | None,
    instance: Instance | None = None,
    params: dict[str, Any] | None = None,
    idempotency_key: str = "",
    subject: str = "",
    enqueue: Enqueue = _enqueue_operation,
) -> tuple[Operation, bool]:
    """Create an operation and send it to the broker once the transaction commits.

    Returns ``(operation, created)``. The same idempotency key (a form re-submitted, a
    double click) gives back the first operation on that target, even after it finished;
    asking for an operation of a kind already pending or running on the same target gives
    back that one. Raises :class:`OperationConflict` when another mutating operation holds
    the instance, or the key was used for another target.

    ``subject`` names what the operation acts on within its target (e.g. one access grant),
    so two operations of one kind on one instance run side by side when their subjects
    differ; the same subject still folds into the one under way.

    If the broker cannot be reached the operation is still created (``dispatched_at`` stays
    empty) and the dispatcher sends it when the broker is back.
    """
    key = idempotency_key or uuid.uuid4().hex
    with transaction.atomic():
        existing = _existing(key=key, kind=kind, instance=instance, subject=subject)
        if existing is not None:
            return existing, False
        try:
            # A savepoint: losing the race on a unique index must not spoil the caller's
            # transaction; the loser then reads the winner, committed by now.
            with transaction.atomic():
                operation = Operation.objects.create(
                    kind=kind,
                    actor=actor,
                    instance=instance,
                    subject=subject,
                    params=params or {},
                    idempotency_key=key,
                    dispatched_at=timezone.now(),
                )
        except IntegrityError as exc:
            winner = _existing(key=key, kind=kind, instance=instance, subject=subject)
            if winner is not None:
                return winner, False
            raise _conflict(key=key, instance=instance) from exc
        audit_record(
            action=f"operation.{kind}.requested",
            actor=actor,
            obj=operation,
            after={
                "kind": kind,
                "instance": instance.slug if instance else None,
                "params": params or {},
                **({"subject": subject} if subject else {}),
            },
        )
        transaction.on_commit(lambda: _send(operation, enqueue))
    return operation, True


def _conflict(*, key: str, instance: Instance | None) -> OperationConflict:
    holder = (
        Operation.objects.filter(_active_on_target(instance=instance))
        .filter(kind__in=MUTATING_OPERATION_KINDS)
        .first()
    )
    if holder is not None:
        return OperationConflict(
            f"{holder.get_kind_display()} #{holder.pk} is already under way on this instance; "
            "try again when it has finished.",
            operation=holder,
        )
    if Operation.objects.filter(idempotency_key=key).exists():
        return OperationConflict("This request key belongs to another operation.")
    return OperationConflict("Another operation holds this target.")


def operation_claim(*, operation_id: int) -> Operation | None:
    """Take the operation's lease and mark it running; None if there is nothing to do now.

    Nothing to do: it finished, another worker holds a live lease, or it waits for a retry
    time not reached yet (a duplicate delivery arrived early). The claim is one conditional
    UPDATE, so of two workers claiming at once exactly one wins.
    """
    now = timezone.now()
    # Says who holds it (host:pid), for the people reading the row; unique per claim.
    token = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:16]}"
    claimed = (
        Operation.objects.filter(pk=operation_id, state__in=ACTIVE_OPERATION_STATES)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        # A retry countdown may fire a moment early by the database's clock.
        .filter(Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now + dt.timedelta(seconds=2)))
        .update(
            state=OperationState.RUNNING,
            lease_owner=token,
            lease_expires_at=now + dt.timedelta(seconds=lease_seconds()),
            next_retry_at=None,
            attempts=F("attempts") + 1,
            started_at=Coalesce(F("started_at"), now),
        )
    )
    if not claimed:
        return None
    return Operation.objects.select_related("instance").get(pk=operation_id)


def operation_lease_renew(*, operation: Operation) -> bool:
    """Push the lease forward; False if this worker no longer holds it."""
    renewed = Operation.objects.filter(
        pk=operation.pk, lease_owner=operation.lease_owner, state=OperationState.RUNNING
    ).update(lease_expires_at=timezone.now() + dt.timedelta(seconds=lease_seconds()))
    return bool(renewed)


class LeaseKeeper:
    """Renews an operation's lease from a thread while the runner works (a GCP wait can
    outlast the lease), and stops renewing when the block ends. A killed process stops
    renewing with it, which is how the dispatcher learns that the worker is gone."""

    def __init__(self, operation: Operation) -> None:
        self.operation = operation
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{operation.pk}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = lease_seconds() / 3
        try:
            while not self._stop.wait(interval):
                try:
                    if not operation_lease_renew(operation=self.operation):
                        logger.warning("operation %s: lease lost", self.operation.pk)
                        self.lost.set()
                        return
                except Exception:
                    # The database hiccupped; the next beat tries again before the lease ends.
                    logger.warning("operation %s: lease renewal failed", self.operation.pk)
                    connection.close()
        finally:
            connection.close()


def _held(operation: Operation) -> Q:
    return Q(pk=operation.pk, state=OperationState.RUNNING, lease_owner=operation.lease_owner)


def operation_finish(
    *,
    operation: Operation,
    state: OperationState,
    error: str = "",
    result: dict[str, Any] | None = None,
) -> Operation:
    """Record the outcome and audit it, if this worker still holds the lease.

    A worker whose lease lapsed (it stalled, another worker resumed the operation) finishes
    nothing: the operation is finished once, by the worker that holds it.
    """
    with transaction.atomic():
        finished_at = timezone.now()
        result = result or operation.result
        updated = Operation.objects.filter(_held(operation)).update(
            state=state,
            error=error,
            result=result,
            finished_at=finished_at,
            # The owner stays, to say which worker finished it; the lease ends.
            lease_expires_at=None,
            next_retry_at=None,
        )
        if not updated:
            logger.warning(
                "operation %s: not finishing as %s, this worker no longer holds it",
                operation.pk,
                state,
            )
            operation.refresh_from_db()
            return operation
        operation.state, operation.error, operation.result = state, error, result
        operation.finished_at = finished_at
        operation.lease_expires_at = None
        audit_record(
            action=f"operation.{operation.kind}.{state}",
            actor=operation.actor,
            obj=operation,
            after={"state": state, "error": error, "result": operation.result},
        )
        transaction.on_commit(lambda: _notify_finished(operation))
    logger.info("operation %s finished: %s", operation.pk, state)
    return operation


def operation_cancel_pending(
    *, operation: Operation, actor: User, reason: str, result: dict[str, Any] | None = None
) -> bool:
    """Cancel an operation no worker has started: one conditional UPDATE on the pending,
    unleased row, so it races safely with a worker's claim (whichever commits first wins;
    the claim's own UPDATE finds the row cancelled and takes nothing). Audited; finished
    listeners hear it after commit. False when a worker already holds or finished it."""
    with transaction.atomic():
        now = timezone.now()
        result = {**operation.result, **(result or {})}
        error = f"Cancelled by {actor}: {reason}"
        cancelled = Operation.objects.filter(
            pk=operation.pk, state=OperationState.PENDING, lease_owner=""
        ).update(
            state=OperationState.CANCELLED,
            error=error,
            result=result,
            finished_at=now,
            next_retry_at=None,
            waiting_for="",
        )
        if not cancelled:
            return False
        operation.refresh_from_db()
        audit_record(
            action=f"operation.{operation.kind}.cancelled",
            actor=actor,
            obj=operation,
            after={"state": OperationState.CANCELLED, "reason": reason, "result": result},
        )
        transaction.on_commit(lambda: _notify_finished(operation))
    logger.info("operation %s cancelled by %s: %s", operation.pk, actor, reason)
    return True


def retry_delay(retry: int) -> float:
    """Seconds before retry number ``retry`` (1, 2, ...): exponential, capped, jittered."""
    base = _setting("OPERATION_RETRY_BASE_SECONDS", 5)
    cap = _setting("OPERATION_RETRY_MAX_SECONDS", 120)
    delay = min(cap, base * 2 ** (retry - 1))
    return delay * random.uniform(0.9, 1.1)  # noqa: S311 (jitter, not a secret)


def operation_retry_later(*, operation: Operation, error: str) -> Operation:
    """After a transient GCP error: schedule the next attempt, or fail when the retry budget
    (``OPERATION_TRANSIENT_RETRY_BUDGET_SECONDS`` since the first error of this run of
    errors) would be spent. The operation keeps its target while it waits."""
    now = timezone.now()
    since = operation.retrying_since or now
    retry = operation.retry_count + 1
    delay = retry_delay(retry)
    budget = _setting("OPERATION_TRANSIENT_RETRY_BUDGET_SECONDS", 1200)
    if (now - since).total_seconds() + delay > budget:
        return operation_finish(
            operation=operation,
            state=OperationState.FAILED,
            error=f"GCP kept failing for {(now - since).total_seconds():.0f} s "
            f"({operation.retry_count} retries); last error: {error}",
        )
    next_at = now + dt.timedelta(seconds=delay)
    with transaction.atomic():
        updated = Operation.objects.filter(_held(operation)).update(
            retry_count=retry,
            retrying_since=since,
            next_retry_at=next_at,
            error=error,
            lease_owner="",
            lease_expires_at=None,
            # Counted as sent at the time it is due: the dispatcher re-sends it only if no
            # worker has claimed it some time after that.
            dispatched_at=next_at,
        )
        if updated:
            transaction.on_commit(lambda: _send(operation, _enqueue_operation, countdown=delay))
    if updated:
        logger.warning(
            "operation %s: transient error, retry %d in %.0f s: %s",
            operation.pk,
            retry,
            delay,
            error,
        )
    operation.refresh_from_db()
    return operation


def operation_defer(*, operation: Operation, seconds: float, reason: str) -> Operation:
    """Put a claimed operation back as pending, waiting for ``reason``, and send it again in
    ``seconds``. It releases the lease but not its target; the retry budget is untouched."""
    next_at = timezone.now() + dt.timedelta(seconds=seconds)
    with transaction.atomic():
        updated = Operation.objects.filter(_held(operation)).update(
            state=OperationState.PENDING,
            waiting_for=reason[:255],
            next_retry_at=next_at,
            lease_owner="",
            lease_expires_at=None,
            dispatched_at=next_at,
            # Waiting is not an attempt: "Attempts" keeps counting the runs that did work.
            attempts=F("attempts") - 1,
        )
        if updated:
            transaction.on_commit(lambda: _send(operation, _enqueue_operation, countdown=seconds))
    if updated:
        logger.info(
            "operation %s: waiting for %s; asking again in %.1f s", operation.pk, reason, seconds
        )
    operation.refresh_from_db()
    return operation


def operation_held(*, operation: Operation) -> bool:
    """This worker still holds the operation's lease (a long wait checks it as it goes)."""
    return Operation.objects.filter(_held(operation)).exists()


def operation_wake(*, operation_id: int) -> bool:
    """Send a deferred operation now instead of at its next ask (its reason went away)."""
    now = timezone.now()
    with transaction.atomic():
        woken = (
            Operation.objects.filter(pk=operation_id, state=OperationState.PENDING, lease_owner="")
            .exclude(waiting_for="")
            .update(next_retry_at=now, dispatched_at=now)
        )
        if woken:
            operation = Operation(pk=operation_id, dispatched_at=now)
            transaction.on_commit(lambda: _send(operation, _enqueue_operation))
    return bool(woken)


def operation_dispatch_pending(*, enqueue: Enqueue = _enqueue_operation) -> list[int]:
    """Send every operation no worker is running and none will pick up on its own.

    That is: never sent (the broker was down), sent long ago and never claimed (the message
    was lost with the broker), due for a retry whose message never came, or running under a
    lease that lapsed (the worker died). Each is marked sent under a row lock that a
    concurrent dispatcher skips, so one pass of one dispatcher sends it once.
    """
    now = timezone.now()
    resend_before = now - dt.timedelta(seconds=_setting("OPERATION_REDISPATCH_SECONDS", 120))
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    due = Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now)
    unsent = (
        Q(dispatched_at__isnull=True)
        | Q(dispatched_at__lt=resend_before)
        | Q(lease_expires_at__lt=now)
    )
    with transaction.atomic():
        operations = list(
            Operation.objects.select_for_update(skip_locked=True)
            .filter(state__in=ACTIVE_OPERATION_STATES)
            .filter(free, due, unsent)
            .order_by("pk")[:500]
        )
        lapsed = [op.pk for op in operations if op.lease_expires_at is not None]
        ids = [op.pk for op in operations]
        Operation.objects.filter(pk__in=ids).update(dispatched_at=now)
        # Drop lapsed leases now, so the same lapse is not dispatched again on the next pass.
        Operation.objects.filter(pk__in=lapsed).update(lease_owner="", lease_expires_at=None)
    for operation in operations:
        operation.dispatched_at = now
        if operation.pk in lapsed:
            logger.warning("operation %s: its worker's lease lapsed; resuming it", operation.pk)
        _send(operation, enqueue)
    if ids:
        logger.info("dispatcher sent %d operations: %s", len(ids), ids)
    return ids


def step_begin(*, operation: Operation, name: str) -> OperationStep:
    """Start a step, or pick up the same step left running by a previous attempt."""
    last = operation.steps.order_by("-position").first()
    if last is not None and last.name == name and last.state == StepState.RUNNING:
        return last
    return OperationStep.objects.create(
        operation=operation,
        position=(last.position + 1) if last else 1,
        name=name,
        started_at=timezone.now(),
    )


def step_end(
    *,
    step: OperationStep,
    state: StepState = StepState.DONE,
    detail: str = "",
    output: dict[str, Any] | None = None,
) -> None:
    step.state = state
    step.detail = detail
    step.output = output or {}
    step.finished_at = timezone.now()
    step.save(update_fields=["state", "detail", "output", "finished_at"])


def step_done(*, operation: Operation, name: str) -> OperationStep | None:
    """The step of that name a previous attempt finished, if any."""
    return operation.steps.filter(name=name, state=StepState.DONE).order_by("-position").first()


StepWork = Callable[[], tuple[str, dict[str, Any]]]


class StepFailed(Exception):
    """A step's work failed for a reason it states itself; the step's detail is the message."""


class LeaseLost(Exception):
    """This worker's lease lapsed and another worker took the operation over: stop here."""


def step_run(*, operation: Operation, name: str, work: StepWork) -> dict[str, Any]:
    """Run one step once per operation: a step a previous attempt finished is skipped and
    its recorded output returned, so a resumed operation repeats no completed change.
    Raises :class:`LeaseLost`, before starting the step, if another worker took over.

    ``work`` returns ``(detail, output)``. If it raises, the step is closed as failed with
    the error and the error propagates (a retry after a transient error starts a new step
    of the same name). A step is only left running when the worker itself dies; the next
    attempt picks it up.
    """
    done = step_done(operation=operation, name=name)
    if done is not None:
        return dict(done.output)
    # A worker that stalled past its lease must not start another change beside the worker
    # that took over (one query per step; rows created outside a claim have no owner).
    if operation.lease_owner and not Operation.objects.filter(_held(operation)).exists():
        raise LeaseLost(f"operation {operation.pk}: lease lost before step {name!r}")
    step = step_begin(operation=operation, name=name)
    try:
        detail, output = work()
    except LeaseLost:
        # Another worker owns the operation now and may be running this very step: leave
        # the step to it rather than closing it as failed under its feet.
        raise
    except StepFailed as exc:
        step_end(step=step, state=StepState.FAILED, detail=str(exc))
        raise
    except Exception as exc:
        step_end(step=step, state=StepState.FAILED, detail=f"{type(exc).__name__}: {exc}")
        raise
    step_end(step=step, detail=detail, output=output)
    return output
