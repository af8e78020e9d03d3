"""Executing approved requests through the lifecycle services (``instances.services.lifecycle``,
the contract with the lifecycle work): suspend, resume, tear down, each with
``reference="request:<pk>"``.

* Start: under the request's lock, the lifecycle service creates (or returns, for the same
  reference) the operation; the request moves to in progress in the same transaction, so a
  refused operation (wrong typed name, wrong instance state) changes nothing.
* End: :func:`request_operation_finished_listener` (registered with
  ``register_finished_listener``) hears every finished operation after its commit and moves
  the request to done, or back to approved with the error; :func:`requests_sweep` (beat)
  does the same for an operation whose hook was lost, and links an operation started for a
  request elsewhere (lifecycle's own teardown confirmation page) to its request.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from instances.choices import (
    ACTIVE_OPERATION_STATES,
    TERMINAL_OPERATION_STATES,
    LifecycleState,
    OperationKind,
    OperationState,
)
from instances.models import Operation
from instances.services import lifecycle, provisioning, trials
from mi_admin.accounts.models import User
from mi_admin.accounts.roles import Role, user_roles
from mi_requests.choices import OPERATION_KINDS, RequestKind, RequestState
from mi_requests.models import CustomerRequest
from mi_requests.selectors import request_approvers
from mi_requests.services.requests import RequestError, _require_handler, locked, move
from mi_requests.workflow import Action, By

logger = logging.getLogger(__name__)

REFERENCE_PREFIX = "request:"
OPERATION_KIND_OF = {
    RequestKind.SUSPENSION: OperationKind.SUSPEND,
    RequestKind.RESUME: OperationKind.RESUME,
    RequestKind.TEARDOWN: OperationKind.TEARDOWN,
}


def reference_of(request: CustomerRequest) -> str:
    return f"{REFERENCE_PREFIX}{request.pk}"


def request_pk_from(reference: object) -> int | None:
    text = str(reference or "")
    if not text.startswith(REFERENCE_PREFIX) or not text[len(REFERENCE_PREFIX) :].isdigit():
        return None
    return int(text[len(REFERENCE_PREFIX) :])


def _message(exc: ValidationError) -> str:
    return " ".join(str(message) for message in exc.messages)


def request_execute(
    *, request: CustomerRequest, actor: User, typed_name: str = ""
) -> CustomerRequest:
    """DevOps starts an approved suspension, resume or teardown. A teardown needs the
    instance's name typed and then waits out lifecycle's countdown (cancellable)."""
    _require_handler(actor)
    with transaction.atomic():
        current = locked(request.pk)
        if current.kind not in OPERATION_KINDS:
            raise RequestError("This request has no operation to run; start it by hand.")
        if current.state != RequestState.APPROVED:
            raise RequestError(
                f"Only an approved request can be run; this one is "
                f"{current.get_state_display().lower()}."
            )
        assert current.instance is not None  # a check constraint for these kinds
        reason = f"Request #{current.pk}: {current.reason}"[:500]
        try:
            if current.kind == RequestKind.SUSPENSION:
                operation = lifecycle.instance_suspend(
                    instance=current.instance,
                    actor=actor,
                    reason=reason,
                    reference=reference_of(current),
                )
            elif current.kind == RequestKind.RESUME:
                operation = lifecycle.instance_resume(
                    instance=current.instance,
                    actor=actor,
                    reason=reason,
                    reference=reference_of(current),
                )
            else:
                operation = lifecycle.instance_teardown_schedule(
                    instance=current.instance,
                    actor=actor,
                    reason=reason,
                    typed_name=typed_name,
                    approved_by=request_approvers(request=current),
                    reference=reference_of(current),
                )
        except ValidationError as exc:
            raise RequestError(_message(exc)) from exc
        if operation.state in TERMINAL_OPERATION_STATES:
            # The same reference returned an operation that already ended (a retried
            # click after its end): apply its outcome instead of starting anything.
            _apply_outcome(current, operation, actor=actor)
            return current
        move(
            current,
            Action.START,
            by=By.HANDLER,
            actor=actor,
            comment=f"{operation.get_kind_display()} operation #{operation.pk} started.",
            fields={"operation": operation, "last_error": ""},
        )
    return current


def request_teardown_cancel(
    *, request: CustomerRequest, actor: User, reason: str
) -> CustomerRequest:
    """Cancel the teardown's countdown (lifecycle refuses once deleting began); the
    operation ends cancelled and the request goes back to approved."""
    _require_handler(actor)
    current = CustomerRequest.objects.select_related("operation").get(pk=request.pk)
    if current.operation is None or current.operation.kind != OperationKind.TEARDOWN:
        raise RequestError("This request has no teardown to cancel.")
    try:
        lifecycle.instance_teardown_cancel(operation=current.operation, actor=actor, reason=reason)
    except ValidationError as exc:
        raise RequestError(_message(exc)) from exc
    request_operation_finished(operation_pk=current.operation.pk)
    current.refresh_from_db()
    return current


def _apply_outcome(current: CustomerRequest, operation: Operation, *, actor: User | None) -> None:
    what = f"{operation.get_kind_display()} operation #{operation.pk}"
    if operation.state == OperationState.SUCCEEDED:
        if current.state == RequestState.APPROVED:
            move(
                current,
                Action.START,
                by=By.HANDLER,
                actor=actor,
                comment=f"{what} ran.",
                fields={"operation": operation},
            )
        move(
            current,
            Action.FINISH,
            by=By.SYSTEM,
            actor=None,
            comment=f"{what} succeeded.",
            fields={"last_error": ""},
        )
        return
    if current.state != RequestState.IN_PROGRESS:
        return
    error = operation.error or (
        "cancelled" if operation.state == OperationState.CANCELLED else "failed"
    )
    move(
        current,
        Action.FAIL,
        by=By.SYSTEM,
        actor=None,
        comment=f"{what} {operation.get_state_display().lower()}: {error}",
        fields={"last_error": f"{what} {operation.get_state_display().lower()}: {error}"},
    )


def request_operation_finished(*, operation_pk: int) -> bool:
    """Apply a finished operation's outcome to the request it ran for. Idempotent: a request
    that moved on (or a second call) is left alone. True if the request changed."""
    operation = Operation.objects.filter(pk=operation_pk).first()
    if operation is None or operation.state not in TERMINAL_OPERATION_STATES:
        return False
    pk = request_pk_from(operation.params.get("reference"))
    if pk is None:
        return False
    with transaction.atomic():
        current = CustomerRequest.objects.select_for_update(of=("self",)).filter(pk=pk).first()
        if current is None or current.kind not in OPERATION_KINDS:
            return False
        if current.operation_id not in (None, operation.pk):
            return False  # a later operation of the same request is the one that counts
        if current.state != RequestState.IN_PROGRESS:
            return False
        before = current.state
        _apply_outcome(current, operation, actor=None)
        return current.state != before


def request_operation_finished_listener(operation: Operation) -> None:
    """The finished-operation hook: only lifecycle kinds started for a request."""
    if operation.kind not in OPERATION_KIND_OF.values():
        return
    if request_pk_from(operation.params.get("reference")) is None:
        return
    request_operation_finished(operation_pk=operation.pk)


def _link_started(operation: Operation) -> bool:
    """An operation started for a request outside its page (lifecycle's teardown
    confirmation): the request moves to in progress with it."""
    pk = request_pk_from(operation.params.get("reference"))
    if pk is None:
        return False
    with transaction.atomic():
        current = CustomerRequest.objects.select_for_update(of=("self",)).filter(pk=pk).first()
        if current is None or current.state != RequestState.APPROVED:
            return False
        if OPERATION_KIND_OF.get(RequestKind(current.kind)) != operation.kind:
            return False
        move(
            current,
            Action.START,
            by=By.HANDLER,
            actor=operation.actor,
            comment=f"{operation.get_kind_display()} operation #{operation.pk} started.",
            fields={"operation": operation, "last_error": ""},
        )
    return True


def request_provision(*, request: CustomerRequest, actor: User, slug: str) -> CustomerRequest:
    """DevOps starts provisioning an approved new instance (provisioning's checklist, with
    ``reference="request:<pk>"``); the request is done when the instance goes live."""
    _require_handler(actor)
    slug = slug.strip()
    if not slug:
        raise RequestError("Give the new instance's slug (e.g. initech).")
    with transaction.atomic():
        current = locked(request.pk)
        if current.kind != RequestKind.NEW_INSTANCE:
            raise RequestError("Only a new-instance request is provisioned.")
        if current.state != RequestState.APPROVED:
            raise RequestError(
                f"Only an approved request can be provisioned; this one is "
                f"{current.get_state_display().lower()}."
            )
        answers = current.details
        owner = current.requester if Role.CE in user_roles(current.requester) else None
        try:
            instance = provisioning.instance_provision_start(
                actor=actor,
                reason=f"Request #{current.pk}: {current.reason or current.summary}"[:1000],
                reference=reference_of(current),
                customer=current.customer,
                customer_name=current.new_customer_name,
                customer_slug=slugify(current.new_customer_name)[:63],
                slug=slug,
                kind=str(answers.get("instance_kind", "")),
                architecture=str(answers.get("architecture", "")),
                size=str(answers.get("size", "")),
                admin_contact=str(answers.get("admin_contact", "")),
                network_access=str(answers.get("inbound_access", "")),
                allowed_cidrs=list(answers.get("allowed_cidrs", [])),
                code_host_access=str(answers.get("code_host_access", "")),
                owner=owner,
            )
        except ValidationError as exc:
            raise RequestError(_message(exc)) from exc
        move(
            current,
            Action.START,
            by=By.HANDLER,
            actor=actor,
            comment=f"Provisioning of {instance.slug} started (checklist on the instance page).",
            fields={
                "instance": instance,
                "customer": instance.customer,
                "new_customer_name": "",
                "last_error": "",
            },
        )
    return current


def request_trial_extend(*, request: CustomerRequest, actor: User) -> CustomerRequest:
    """DevOps moves an approved trial extension's end date (provisioning's trial service):
    started and done in one step."""
    _require_handler(actor)
    with transaction.atomic():
        current = locked(request.pk)
        if current.kind != RequestKind.TRIAL_EXTENSION or current.instance is None:
            raise RequestError("Only a trial extension request moves a trial's end.")
        try:
            ends_on = date.fromisoformat(str(current.details.get("new_end_date", "")))
        except ValueError as exc:
            raise RequestError("This request has no valid new end date.") from exc
        move(current, Action.START, by=By.HANDLER, actor=actor)
        try:
            trials.instance_trial_end_set(
                instance=current.instance,
                ends_on=ends_on,
                actor=actor,
                reason=f"Request #{current.pk}: {current.reason}",
            )
        except ValidationError as exc:
            raise RequestError(_message(exc)) from exc
        move(
            current,
            Action.FINISH,
            by=By.HANDLER,
            actor=actor,
            comment=f"The trial of {current.instance.slug} now ends on {ends_on:%Y-%m-%d}.",
        )
    return current


def _went_live(pk: int) -> bool:
    """A new instance's request is done once its instance is active (provisioning moved it
    there when its /healthz first answered with the checklist complete)."""
    with transaction.atomic():
        current = (
            CustomerRequest.objects.select_for_update(of=("self",))
            .select_related("instance")
            .filter(pk=pk)
            .first()
        )
        if current is None or current.state != RequestState.IN_PROGRESS:
            return False
        instance = current.instance
        if instance is None or instance.state != LifecycleState.ACTIVE:
            return False
        move(
            current,
            Action.FINISH,
            by=By.SYSTEM,
            actor=None,
            comment=f"{instance.slug} is live: provisioning is complete.",
        )
    return True


def requests_sweep() -> dict[str, int]:
    """The periodic half of the listener: finished operations whose request is still in
    progress, and operations started for a request that is still approved."""
    finished = 0
    for pk in CustomerRequest.objects.filter(
        state=RequestState.IN_PROGRESS, operation__state__in=TERMINAL_OPERATION_STATES
    ).values_list("operation_id", flat=True):
        finished += request_operation_finished(operation_pk=pk)
    linked = 0
    approved = CustomerRequest.objects.filter(
        state=RequestState.APPROVED, kind__in=list(OPERATION_KIND_OF)
    ).values_list("pk", flat=True)
    references = [f"{REFERENCE_PREFIX}{pk}" for pk in approved]
    if references:
        since = timezone.now() - timedelta(days=60)
        for operation in Operation.objects.filter(
            Q(params__reference__in=references),
            kind__in=list(OPERATION_KIND_OF.values()),
            created_at__gte=since,
        ).exclude(state=OperationState.CANCELLED):
            if operation.state in ACTIVE_OPERATION_STATES:
                linked += _link_started(operation)
            elif operation.state == OperationState.SUCCEEDED:
                linked += _link_started(operation)
                finished += request_operation_finished(operation_pk=operation.pk)
    live = CustomerRequest.objects.filter(
        state=RequestState.IN_PROGRESS,
        kind=RequestKind.NEW_INSTANCE,
        instance__state=LifecycleState.ACTIVE,
    ).values_list("pk", flat=True)
    for pk in list(live):
        finished += _went_live(pk)
    return {"finished": finished, "linked": linked}
