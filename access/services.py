"""Writes of the access app: request a grant, hear its approval's outcome, start and
confirm activation, end it (early, revoked, expired), and record the verified removal.

Every change locks the grant row (``select_for_update``) and re-checks its state under the
lock, so an approval racing a revoke or a withdrawal resolves one way. The binding itself
is added and removed by operations (:mod:`access.runners`), never in a request; a runner
that added a binding re-checks the grant afterwards and removes it if the grant ended
meanwhile, so no race leaves a binding behind.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from access.choices import LIVE_GRANT_STATES, OPEN_GRANT_STATES, AccessLevelKind, GrantState
from access.models import LONGEST_SCHEDULE_AHEAD, AccessGrant, AccessLevel
from access.notifications import (
    access_notifications_sweep,
    extension_decided_notify,
    grant_decided_notify,
    grant_ended_notify,
    warning_schedule,
)
from instances.choices import InstanceKind, OperationKind
from instances.models import Instance, Operation
from instances.services.operations import operation_create
from mi_admin.accounts.models import User
from mi_admin.accounts.roles import Perm, Role, user_can, user_roles
from mi_admin.approvals.choices import RequestState
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.approvals.services import approval_request_create
from mi_admin.audit.services import audit_record
from mi_admin.queue import task_enqueue
from mi_admin.ui.spans import span_text

logger = logging.getLogger(__name__)

SUBJECT_KIND = "access.grant"
EXTENSION_KIND = "access.extension"
REQUESTER_ROLES = frozenset({Role.DEVOPS, Role.ADMIN})


class AccessError(Exception):
    """A request or change refused, with the sentence to show."""


def _snapshot(grant: AccessGrant) -> dict[str, Any]:
    def stamp(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "state": grant.state,
        "activated_at": stamp(grant.activated_at),
        "expires_at": stamp(grant.expires_at),
        "ended_at": stamp(grant.ended_at),
        "end_reason": grant.end_reason,
        "binding_verified_removed_at": stamp(grant.binding_verified_removed_at),
    }


def _locked(grant_pk: int) -> AccessGrant:
    return (
        AccessGrant.objects.select_for_update(of=("self",))
        .select_related("instance", "level", "requester")
        .get(pk=grant_pk)
    )


def _validate(
    *,
    requester: User,
    instance: Instance,
    level: AccessLevel,
    justification: str,
    ticket_url: str,
    consent_ref: str,
    duration: timedelta,
    start: datetime,
    now: datetime,
) -> None:
    if not user_roles(requester) & REQUESTER_ROLES:
        raise AccessError("Only DevOps engineers and admins can request access to an instance.")
    if not requester.email:
        raise AccessError("Your account has no email address: IAM needs user:<email>.")
    if level.kind == AccessLevelKind.GCP_IAM and not level.iam_roles:
        raise AccessError(f"{level.name} cannot be granted yet (no IAM roles).")
    if level.kind == AccessLevelKind.OKTA_GROUP and not level.okta_group:
        raise AccessError(f"{level.name} cannot be granted yet (no Okta group).")
    if instance.management_access_opt_out:
        raise AccessError(
            f"{instance.customer} opted out of management access: nothing can be granted "
            f"on {instance.slug}."
        )
    if not justification.strip():
        raise AccessError("Say why you need access (a justification is required).")
    if level.ticket_required and not ticket_url.strip():
        raise AccessError(f"{level.name} needs a ticket link.")
    if (
        level.consent_required_for_production
        and instance.kind == InstanceKind.PRODUCTION
        and not consent_ref.strip()
    ):
        raise AccessError(
            f"{level.name} on a production instance needs the customer's consent reference."
        )
    if duration <= timedelta(0):
        raise AccessError("The duration must be positive.")
    if duration > level.max_duration:
        raise AccessError(
            f"{level.name} lasts at most {span_text(level.max_duration)}; "
            f"you asked for {span_text(duration)}."
        )
    if start < now - timedelta(minutes=1):
        raise AccessError("The start cannot be in the past.")
    if start > now + LONGEST_SCHEDULE_AHEAD:
        raise AccessError("A start can be scheduled at most 7 days ahead.")


def level_okta_group(level: AccessLevel, instance: Instance) -> str:
    """The Okta group a site-admin grant of ``level`` on ``instance`` adds the person to:
    ``{instance}`` in the level's group name stands for the instance's slug (one group per
    instance, if Okta has them)."""
    return level.okta_group.replace("{instance}", instance.slug)


def _okta_group_free(requester: User, okta_group: str) -> None:
    """Refuse a second grant of the same Okta group to the same person while the first may
    still hold the membership (the database's constraint backs this up)."""
    holding = (
        AccessGrant.objects.filter(requester=requester, okta_group=okta_group)
        .filter(
            Q(state__in=OPEN_GRANT_STATES)
            | Q(activated_at__isnull=False, binding_verified_removed_at__isnull=True)
        )
        .first()
    )
    if holding is not None:
        raise AccessError(
            f"Your grant #{holding.pk} already gives (or asks for) the Okta group {okta_group} "
            f"({holding.get_state_display().lower()}): ask for more time on it, or end it first."
        )


def access_grant_request(
    *,
    requester: User,
    instance: Instance,
    level: AccessLevel,
    justification: str,
    duration: timedelta,
    ticket_url: str = "",
    consent_ref: str = "",
    start: datetime | None = None,
) -> AccessGrant:
    """File a grant request and its approval request under the level's policy.

    Raises :class:`AccessError` with the reason when refused (role, opt-out, duration over
    the level's maximum, missing justification, ticket or consent, start out of range)."""
    now = timezone.now()
    start = start or now
    _validate(
        requester=requester,
        instance=instance,
        level=level,
        justification=justification,
        ticket_url=ticket_url,
        consent_ref=consent_ref,
        duration=duration,
        start=start,
        now=now,
    )
    site_admin = level.kind == AccessLevelKind.OKTA_GROUP
    with transaction.atomic():
        # Re-read under a lock: an opt-out set meanwhile wins over the request.
        fresh = Instance.objects.select_for_update().get(pk=instance.pk)
        if fresh.management_access_opt_out:
            raise AccessError(f"{fresh.customer} opted out of management access.")
        okta_group = level_okta_group(level, fresh) if site_admin else ""
        if site_admin:
            _okta_group_free(requester, okta_group)
        try:
            with transaction.atomic():
                grant = AccessGrant.objects.create(
                    requester=requester,
                    instance=fresh,
                    level=level,
                    # IAM binds user:<email>; Okta adds the person by their login (the email).
                    member=requester.email if site_admin else f"user:{requester.email}",
                    okta_group=okta_group,
                    justification=justification.strip(),
                    ticket_url=ticket_url.strip(),
                    consent_ref=consent_ref.strip(),
                    duration=duration,
                    requested_start=max(start, now),
                )
        except IntegrityError as exc:
            # access_grant_one_okta_membership: a concurrent request for the same group won.
            raise AccessError(
                f"You already hold or asked for {level.name} (Okta group {okta_group})."
            ) from exc
        grant.approval_request = approval_request_create(
            policy=level.approval_policy,
            requester=requester,
            subject_kind=SUBJECT_KIND,
            subject_id=str(grant.pk),
            subject_summary=(
                f"{level.name} on {fresh.slug} for {span_text(duration)}: {justification.strip()}"
            ),
        )
        grant.save(update_fields=["approval_request"])
        audit_record(
            action="access.grant.requested",
            actor=requester,
            obj=grant,
            after={
                "instance": fresh.slug,
                "level": level.name,
                "roles": list(level.iam_roles),
                "okta_group": grant.okta_group,
                "member": grant.member,
                "duration": str(duration),
                "requested_start": grant.requested_start.isoformat(),
                "justification": grant.justification,
                "ticket_url": grant.ticket_url,
                "consent_ref": grant.consent_ref,
                "approval_request": grant.approval_request.pk,
            },
        )
    logger.info("access grant #%s requested by %s", grant.pk, requester)
    return grant


def access_grant_decided(request: ApprovalRequest) -> None:
    """The approval engine's outcome (after commit; may run twice). Approved: the grant is
    approved and its activation queued (now, or at its scheduled start); denied, expired
    or withdrawn: the grant is closed. A grant no longer pending (revoked meanwhile) stays
    as it is."""
    with transaction.atomic():
        grant = _locked(int(request.subject_id))
        if grant.state != GrantState.PENDING:
            logger.info("access grant #%s: %s heard while %s", grant.pk, request.state, grant.state)
            return
        before = _snapshot(grant)
        now = timezone.now()
        if request.state == RequestState.APPROVED:
            grant.state = GrantState.APPROVED
            grant.approved_at = now
            action = "access.grant.approved"
        elif request.state == RequestState.WITHDRAWN:
            grant.state = GrantState.WITHDRAWN
            grant.ended_at = now
            action = "access.grant.withdrawn"
        elif request.state in (RequestState.DENIED, RequestState.EXPIRED):
            grant.state = GrantState.DENIED
            grant.ended_at = now
            grant.end_reason = (
                "The approval request expired." if request.state == RequestState.EXPIRED else ""
            )
            action = "access.grant.denied"
        else:
            return
        grant.save()
        audit_record(
            action=action,
            actor_label="system",
            obj=grant,
            before=before,
            after={**_snapshot(grant), "approval_request": request.pk},
        )
        grant_decided_notify(grant=grant, request=request, now=now)
        if grant.state == GrantState.APPROVED:
            if grant.requested_start <= now:
                _activation_queue(grant)
            else:
                _activation_schedule(grant)


def _activation_queue(grant: AccessGrant) -> Operation:
    operation, _ = operation_create(
        kind=OperationKind.GRANT,
        actor=None,
        instance=grant.instance,
        subject=grant.operation_subject,
        params={"grant": grant.pk},
        idempotency_key=f"access-grant-{grant.pk}-activate",
    )
    return operation


ACTIVATE_DUE_TASK = "access.tasks.access_grant_activate_due"
EXPIRE_TASK = "access.tasks.access_grant_expire"


def _activation_schedule(grant: AccessGrant) -> None:
    grant_pk, eta = grant.pk, grant.requested_start
    transaction.on_commit(lambda: task_enqueue(ACTIVATE_DUE_TASK, grant_pk, eta=eta))


def access_grant_activate_if_due(*, grant_pk: int, now: datetime | None = None) -> bool:
    """Queue the activation of an approved grant whose start has come (the scheduled task
    and the sweep call this; queuing twice gives the same operation)."""
    now = now or timezone.now()
    with transaction.atomic():
        grant = _locked(grant_pk)
        if (
            grant.state != GrantState.APPROVED
            or grant.activated_at is not None
            or grant.requested_start > now
        ):
            return False
        _activation_queue(grant)
    return True


def access_grant_activation_begin(*, grant_pk: int) -> dict[str, Any]:
    """First step of activation: under the lock, if the grant is still approved, start
    its clock (``activated_at``, ``expires_at``). ``{"proceed": False}`` otherwise: the
    grant was ended meanwhile and nothing may be added."""
    with transaction.atomic():
        grant = _locked(grant_pk)
        if grant.state != GrantState.APPROVED:
            return {"proceed": False, "state": grant.state}
        if grant.activated_at is None:
            before = _snapshot(grant)
            now = timezone.now().replace(microsecond=0)
            grant.activated_at = now
            grant.expires_at = now + grant.duration
            grant.save(update_fields=["activated_at", "expires_at"])
            audit_record(
                action="access.grant.activating",
                actor_label="system",
                obj=grant,
                before=before,
                after=_snapshot(grant),
            )
        assert grant.expires_at is not None
        return {"proceed": True, "expires_at": grant.expires_at.isoformat()}


def access_grant_activation_confirm(*, grant_pk: int) -> bool:
    """Last step of activation, after the binding was read back: the grant becomes active
    (and its end is scheduled) if it is still approved. False: it ended while the binding
    was being added, and the runner must remove it."""
    with transaction.atomic():
        grant = _locked(grant_pk)
        if grant.state == GrantState.ACTIVE:
            return True
        if grant.state != GrantState.APPROVED:
            return False
        before = _snapshot(grant)
        grant.state = GrantState.ACTIVE
        grant.binding_verified_at = timezone.now()
        grant.save(update_fields=["state", "binding_verified_at"])
        audit_record(
            action="access.grant.activated",
            actor_label="system",
            obj=grant,
            before=before,
            after={
                **_snapshot(grant),
                "roles": list(grant.level.iam_roles),
                "okta_group": grant.okta_group,
            },
        )
        _expiry_schedule(grant)
        warning_schedule(grant)
    return True


def _expiry_schedule(grant: AccessGrant) -> None:
    grant_pk, eta = grant.pk, grant.expires_at
    assert eta is not None  # set by activation_begin, before the binding was added

    def send() -> None:
        try:
            task_enqueue(EXPIRE_TASK, grant_pk, eta=eta)
        except Exception:
            # The minute sweep ends it anyway; the broker being down loses nothing.
            logger.warning("access grant #%s: expiry task not queued", grant_pk, exc_info=True)

    transaction.on_commit(send)


def _removal_queue(grant: AccessGrant) -> Operation:
    operation, _ = operation_create(
        kind=OperationKind.REVOKE,
        actor=None,
        instance=grant.instance,
        subject=grant.operation_subject,
        params={"grant": grant.pk},
        # A new key each time: while one removal is under way a repeat folds into it (same
        # subject); after a failed one, the sweep starts another.
        idempotency_key=f"access-grant-{grant.pk}-remove-{uuid.uuid4().hex}",
    )
    return operation


def access_grant_end(
    *,
    grant: AccessGrant,
    actor: User | None,
    state: GrantState,
    reason: str = "",
    now: datetime | None = None,
) -> AccessGrant:
    """End a grant: ``ENDED_EARLY`` (the requester's "I'm done"), ``REVOKED`` (a manager or
    admin, with a reason) or ``EXPIRED`` (the system, past ``expires_at``). A grant that
    may hold a binding gets a removal operation; its removal is verified by reading the
    policy back. Raises :class:`AccessError` when refused."""
    reason = reason.strip()
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(grant.pk)
        if state == GrantState.ENDED_EARLY:
            if actor is None or actor.pk != locked.requester_id:
                raise AccessError("Only the person who holds the grant can end it early.")
        elif state == GrantState.REVOKED:
            if actor is None or not user_can(actor, Perm.APPROVE):
                raise AccessError("Only a manager or an admin can revoke a grant.")
            if not reason:
                raise AccessError("Say why the grant is revoked (a reason is required).")
        elif state == GrantState.EXPIRED:
            if locked.expires_at is None or locked.expires_at > now:
                raise AccessError("This grant has not expired yet.")
        else:
            raise AccessError(f"A grant cannot be ended as {state}.")
        allowed = OPEN_GRANT_STATES if state == GrantState.REVOKED else LIVE_GRANT_STATES
        if locked.state not in allowed:
            raise AccessError(
                f"This grant is already {locked.get_state_display().lower()}; nothing to end."
            )
        was = locked.state
        before = _snapshot(locked)
        locked.state = state
        locked.ended_at = now
        locked.ended_by = actor
        locked.end_reason = reason
        locked.save(update_fields=["state", "ended_at", "ended_by", "end_reason"])
        audit_record(
            action=f"access.grant.{state}",
            actor=actor,
            actor_label="" if actor else "system",
            obj=locked,
            before=before,
            after=_snapshot(locked),
        )
        if was in LIVE_GRANT_STATES:
            _removal_queue(locked)
        grant_ended_notify(grant=locked)
    grant.refresh_from_db()
    return grant


def access_grant_removal_verified(*, grant_pk: int, again: bool = False) -> None:
    """The removal's read-back showed no binding of this grant: record when. ``again``: an
    activation that finished after a removal had verified removed its own binding, so the
    later time is the true one."""
    with transaction.atomic():
        grant = _locked(grant_pk)
        if grant.binding_verified_removed_at is not None and not again:
            return
        before = _snapshot(grant)
        grant.binding_verified_removed_at = timezone.now()
        grant.save(update_fields=["binding_verified_removed_at"])
        audit_record(
            action="access.grant.binding_removed",
            actor_label="system",
            obj=grant,
            before=before,
            after=_snapshot(grant),
        )


def access_grants_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The minute sweep: end every live grant whose expiry passed (whatever was missed
    while no worker ran), queue activations whose start came, and restart removals not yet
    verified. Safe to run twice and beside everything else (each grant under its lock)."""
    now = now or timezone.now()
    counts = {"expired": 0, "activated": 0, "removals": 0}
    due = AccessGrant.objects.filter(state__in=LIVE_GRANT_STATES, expires_at__lte=now)
    for pk in due.values_list("pk", flat=True):
        try:
            access_grant_end(
                grant=AccessGrant(pk=pk), actor=None, state=GrantState.EXPIRED, now=now
            )
        except AccessError:
            continue  # ended meanwhile
        counts["expired"] += 1
    starting = AccessGrant.objects.filter(
        state=GrantState.APPROVED, activated_at__isnull=True, requested_start__lte=now
    )
    for pk in starting.values_list("pk", flat=True):
        counts["activated"] += access_grant_activate_if_due(grant_pk=pk, now=now)
    unverified = AccessGrant.objects.filter(
        state__in=(GrantState.EXPIRED, GrantState.REVOKED, GrantState.ENDED_EARLY),
        activated_at__isnull=False,
        binding_verified_removed_at__isnull=True,
    )
    for grant in unverified.select_related("instance"):
        with transaction.atomic():
            _removal_queue(grant)
        counts["removals"] += 1
    counts.update(access_notifications_sweep(now=now))
    return counts


def access_grant_extend_request(
    *, grant: AccessGrant, requester: User, extra: timedelta, justification: str
) -> AccessGrant:
    """The holder asks for more time on an active grant: a new approval request under the
    level's policy, linked to the grant; on approval the binding's condition is replaced
    with the later expiry. Raises :class:`AccessError` when refused."""
    if not justification.strip():
        raise AccessError("Say why you need more time (a justification is required).")
    with transaction.atomic():
        locked = _locked(grant.pk)
        if requester.pk != locked.requester_id:
            raise AccessError("Only the person who holds the grant can ask for more time.")
        if locked.state != GrantState.ACTIVE:
            raise AccessError("Only an active grant can be extended.")
        if locked.extension_approval_id is not None:
            raise AccessError("An extension of this grant already waits for approval.")
        if extra <= timedelta(0) or extra > locked.level.max_duration:
            raise AccessError(
                f"An extension lasts between 1 minute and {span_text(locked.level.max_duration)}."
            )
        approval = approval_request_create(
            policy=locked.level.approval_policy,
            requester=requester,
            subject_kind=EXTENSION_KIND,
            subject_id=str(locked.pk),
            subject_summary=f"{span_text(extra)} more of {locked.level.name} "
            f"on {locked.instance.slug}: {justification.strip()}",
        )
        locked.extension_duration = extra
        locked.extension_justification = justification.strip()
        locked.extension_approval = approval
        locked.save(
            update_fields=["extension_duration", "extension_justification", "extension_approval"]
        )
        audit_record(
            action="access.grant.extension_requested",
            actor=requester,
            obj=locked,
            after={
                "extra": str(extra),
                "justification": locked.extension_justification,
                "approval_request": approval.pk,
            },
        )
    grant.refresh_from_db()
    return grant


def _extension_clear(grant: AccessGrant) -> None:
    grant.extension_duration = None
    grant.extension_justification = ""
    grant.extension_approval = None


def access_extension_decided(request: ApprovalRequest) -> None:
    """The approval engine's outcome of an extension (after commit; may run twice):
    approved and still active → queue the operation that replaces the condition; refused
    → the request is cleared. Anything else (the grant ended) → nothing."""
    with transaction.atomic():
        grant = _locked(int(request.subject_id))
        if grant.extension_approval_id != request.pk:
            return  # applied, refused or superseded already
        if request.state == RequestState.APPROVED and grant.state == GrantState.ACTIVE:
            assert grant.expires_at is not None
            assert grant.extension_duration is not None
            new_expiry = grant.expires_at + grant.extension_duration
            operation_create(
                kind=OperationKind.GRANT,
                actor=None,
                instance=grant.instance,
                subject=f"{grant.operation_subject}:extend",
                params={"grant": grant.pk, "extend_to": new_expiry.isoformat()},
                idempotency_key=f"access-grant-{grant.pk}-extend-{request.pk}",
            )
            audit_record(
                action="access.grant.extension_approved",
                actor_label="system",
                obj=grant,
                after={"approval_request": request.pk, "expires_at": new_expiry.isoformat()},
            )
            return
        _extension_clear(grant)
        grant.save(
            update_fields=["extension_duration", "extension_justification", "extension_approval"]
        )
        audit_record(
            action="access.grant.extension_refused",
            actor_label="system",
            obj=grant,
            after={"approval_request": request.pk, "outcome": request.state},
        )
        extension_decided_notify(grant=grant, request=request)


def access_grant_extension_confirm(*, grant_pk: int, expires_at: datetime) -> bool:
    """After the new condition was read back: the grant lasts until ``expires_at`` if it is
    still active (its expiry task is queued again). False: it ended meanwhile, and the
    runner must remove the binding."""
    with transaction.atomic():
        grant = _locked(grant_pk)
        if grant.state != GrantState.ACTIVE:
            return False
        if grant.expires_at == expires_at:
            return True
        before = _snapshot(grant)
        approval = grant.extension_approval
        grant.expires_at = expires_at
        _extension_clear(grant)
        grant.save(
            update_fields=[
                "expires_at",
                "extension_duration",
                "extension_justification",
                "extension_approval",
            ]
        )
        audit_record(
            action="access.grant.extended",
            actor_label="system",
            obj=grant,
            before=before,
            after=_snapshot(grant),
        )
        _expiry_schedule(grant)
        warning_schedule(grant)
        if approval is not None:
            extension_decided_notify(grant=grant, request=approval)
    return True
