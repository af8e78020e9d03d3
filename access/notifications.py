"""Telling a grant's holder what happened: the decision on their request (and on an
extension), a warning ten minutes before the grant expires, and its end (expired, ended,
revoked with the reason).

Each message is an :class:`~access.models.AccessNotification` row whose unique
(grant, kind, key) is the "sent once" marker: the services record it inside the transaction
that made the change (only the run that inserts the row queues a delivery), and delivery
claims the row with one conditional UPDATE before it posts, so two workers, a redelivered
message or the sweep never post it twice. Messages go through the alert integrations'
Slack sender (:func:`mi_admin.alerts.base.post_json`) to ``ACCESS_SLACK_WEBHOOK_URL``,
@-mentioning the holder when their Slack member id is known.

The warning is a task queued for ``expires_at - 10 min`` (moved by an extension: the new
expiry is a new key, and the old task finds nothing due); the minute sweep warns whatever
that task missed and re-sends deliveries left pending.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from access.choices import DeliveryState, GrantState, NotificationKind
from access.models import AccessGrant, AccessNotification
from mi_admin.alerts.base import AlertPermanentError, AlertTransientError, post_json
from mi_admin.alerts.slack import escape
from mi_admin.approvals.choices import Decision, RequestState
from mi_admin.approvals.models import ApprovalRequest, Review
from mi_admin.audit.services import audit_record
from mi_admin.queue import task_enqueue
from mi_admin.ui.spans import span_text
from mi_admin.ui.times import when_text

logger = logging.getLogger(__name__)

WARNING_BEFORE = timedelta(minutes=10)
# Longer than one post can take (ALERT_HTTP_TIMEOUT): a claim outliving it means the worker
# died mid-post, and the sweep may send again.
CLAIM_FOR = timedelta(minutes=2)
# The sweep re-sends pending messages older than this (the queued task had its chance)...
REDELIVER_AFTER = timedelta(minutes=1)
# ...and gives up on ones older than this (stale news is noise).
REDELIVER_UNTIL = timedelta(days=1)

DELIVER_TASK = "access.tasks.access_notification_deliver_task"
WARN_TASK = "access.tasks.access_grant_warn_task"
NOTIFIED = "access.grant.notified"


def _stamp(value: datetime | None) -> str:
    return when_text(value)


def _key_of(expires_at: datetime) -> str:
    return expires_at.astimezone(UTC).isoformat()


def _who(grant: AccessGrant) -> str:
    holder = grant.requester
    return f"<@{holder.slack_user_id}>" if holder.slack_user_id else escape(str(holder))


def _link(grant: AccessGrant) -> str:
    url = settings.SITE_URL.rstrip("/") + reverse("access:grant", kwargs={"pk": grant.pk})
    return f"<{url}|#{grant.pk}>"


def _what(grant: AccessGrant) -> str:
    return escape(f"{grant.level.name} on {grant.instance.slug}")


def _reviews_said(request: ApprovalRequest, decision: Decision) -> str:
    reviews = Review.objects.filter(request=request, decision=decision).select_related("reviewer")
    said = [
        escape(f"{review.reviewer}" + (f" ({review.comment})" if review.comment else ""))
        for review in reviews.order_by("created_at", "pk")
    ]
    return ", ".join(said) or "nobody"


def decision_text(grant: AccessGrant, request: ApprovalRequest, *, now: datetime) -> str | None:
    """The holder's message for their request's outcome (None: withdrawn, they know)."""
    asked = f"{_what(grant)}, {span_text(grant.duration)}"
    head = f"{_who(grant)}: your access request {_link(grant)} ({asked})"
    if request.state == RequestState.APPROVED:
        start = (
            "It starts now."
            if grant.requested_start <= now
            else f"It starts at {_stamp(grant.requested_start)}."
        )
        return f"{head} was approved by {_reviews_said(request, Decision.APPROVE)}. {start}"
    if request.state == RequestState.DENIED:
        denial = Review.objects.filter(request=request, decision=Decision.DENY).first()
        why = escape(denial.comment) if denial and denial.comment else "no comment given"
        by = escape(str(denial.reviewer)) if denial else "a reviewer"
        return f"{head} was denied by {by}: {why}."
    if request.state == RequestState.EXPIRED:
        return f"{head} expired without a decision; file it again if you still need access."
    return None


def extension_text(grant: AccessGrant, request: ApprovalRequest) -> str:
    head = f"{_who(grant)}: your request for more time on {_link(grant)} ({_what(grant)})"
    if request.state == RequestState.APPROVED and grant.state != GrantState.ACTIVE:
        return f"{head} was approved after the grant had ended; nothing was extended."
    if request.state == RequestState.APPROVED:
        return (
            f"{head} was approved by {_reviews_said(request, Decision.APPROVE)}; access now "
            f"lasts until {_stamp(grant.expires_at)}."
        )
    if request.state == RequestState.DENIED:
        return f"{head} was denied: {_reviews_said(request, Decision.DENY)}."
    return f"{head} was not approved ({request.get_state_display().lower()})."


def warning_text(grant: AccessGrant) -> str:
    return (
        f"{_who(grant)}: your access {_link(grant)} ({_what(grant)}) ends in 10 minutes, at "
        f"{_stamp(grant.expires_at)}. Need longer? Ask for more time on the grant page."
    )


def ended_text(grant: AccessGrant) -> str:
    head = f"{_who(grant)}: your access {_link(grant)} ({_what(grant)})"
    if grant.state == GrantState.REVOKED:
        return (
            f"{head} was revoked by {escape(str(grant.ended_by))} at {_stamp(grant.ended_at)}: "
            f"{escape(grant.end_reason)}"
        )
    if grant.state == GrantState.ENDED_EARLY:
        return f"{head} ended at {_stamp(grant.ended_at)}, as you asked."
    return f"{head} expired at {_stamp(grant.ended_at)}."


def notification_record(
    *, grant: AccessGrant, kind: NotificationKind, text: str, key: str = ""
) -> AccessNotification | None:
    """Inside the caller's transaction: insert the message's marker row and queue its
    delivery after commit. None when the row exists already (said before)."""
    try:
        with transaction.atomic():  # a savepoint: a duplicate leaves the caller's work intact
            notification = AccessNotification.objects.create(
                grant=grant, kind=kind, key=key, text=text
            )
    except IntegrityError:
        logger.info("access grant #%s: %s %r said already", grant.pk, kind, key)
        return None
    pk = notification.pk
    transaction.on_commit(lambda: _deliver_enqueue(pk))
    return notification


def _deliver_enqueue(notification_pk: int) -> None:
    try:
        task_enqueue(DELIVER_TASK, notification_pk)
    except Exception:
        # The sweep re-sends pending messages; a broker outage loses nothing.
        logger.warning("access notification #%s not queued", notification_pk, exc_info=True)


def grant_decided_notify(*, grant: AccessGrant, request: ApprovalRequest, now: datetime) -> None:
    text = decision_text(grant, request, now=now)
    if text is not None:
        notification_record(grant=grant, kind=NotificationKind.DECIDED, text=text)


def extension_decided_notify(*, grant: AccessGrant, request: ApprovalRequest) -> None:
    notification_record(
        grant=grant,
        kind=NotificationKind.EXTENSION_DECIDED,
        key=str(request.pk),
        text=extension_text(grant, request),
    )


def grant_ended_notify(*, grant: AccessGrant) -> None:
    notification_record(grant=grant, kind=NotificationKind.ENDED, text=ended_text(grant))


def warning_due_at(grant: AccessGrant) -> datetime | None:
    """When the holder is warned; None for a grant shorter than the warning itself (it
    would be warned the moment it starts)."""
    if grant.expires_at is None or grant.activated_at is None:
        return None
    due = grant.expires_at - WARNING_BEFORE
    return due if due > grant.activated_at else None


def warning_schedule(grant: AccessGrant) -> None:
    """After commit, queue the warning task for ``expires_at - 10 min``."""
    due = warning_due_at(grant)
    if due is None:
        return
    grant_pk = grant.pk

    def send() -> None:
        try:
            task_enqueue(WARN_TASK, grant_pk, eta=due)
        except Exception:
            logger.warning("access grant #%s: warning task not queued", grant_pk, exc_info=True)

    transaction.on_commit(send)


def access_grant_warn(*, grant_pk: int, now: datetime | None = None) -> bool:
    """Warn the holder that the grant ends in 10 minutes, if it is active and its warning is
    due and not given for this expiry yet. True when this run recorded it."""
    now = now or timezone.now()
    with transaction.atomic():
        grant = (
            AccessGrant.objects.select_for_update(of=("self",))
            .select_related("instance", "level", "requester")
            .get(pk=grant_pk)
        )
        due = warning_due_at(grant)
        if grant.state != GrantState.ACTIVE or due is None or grant.expires_at is None:
            return False
        if not due <= now < grant.expires_at:
            return False  # not yet, or an extension moved the expiry past this run
        key = _key_of(grant.expires_at)
        said = AccessNotification.objects.filter(
            grant=grant, kind=NotificationKind.WARNING, key=key
        )
        if said.exists():
            return False  # the usual case for the sweep; the unique row is the real guard
        recorded = notification_record(
            grant=grant, kind=NotificationKind.WARNING, key=key, text=warning_text(grant)
        )
    return recorded is not None


def _delivery_finish(notification: AccessNotification, state: DeliveryState, error: str) -> None:
    with transaction.atomic():
        done = AccessNotification.objects.filter(
            pk=notification.pk, state=DeliveryState.PENDING
        ).update(
            state=state,
            sent_at=timezone.now() if state == DeliveryState.SENT else None,
            claimed_until=None,
            last_error=error[:300],
        )
        if not done:
            return
        audit_record(
            action=NOTIFIED,
            actor_label="system",
            obj=notification.grant,
            after={
                "kind": notification.kind,
                "key": notification.key,
                "delivery": state.value,
                "attempts": notification.attempts,
                "error": error[:300],
            },
        )


def access_notification_deliver(*, notification_pk: int) -> bool:
    """Post one pending message, if this run wins its claim; True when it was posted.

    Raises :class:`~mi_admin.alerts.base.AlertTransientError` (claim released) for the task
    to retry; a permanent refusal marks it failed."""
    now = timezone.now()
    claimed = (
        AccessNotification.objects.filter(pk=notification_pk, state=DeliveryState.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM_FOR, attempts=F("attempts") + 1)
    )
    if not claimed:
        return False  # sent, failed, or another run holds it
    notification = AccessNotification.objects.select_related("grant").get(pk=notification_pk)
    url = settings.ACCESS_SLACK_WEBHOOK_URL
    if not url:
        _delivery_finish(notification, DeliveryState.OFF, "")
        return False
    payload = {
        "text": notification.text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": notification.text}}],
    }
    try:
        post_json(notifier="slack", url=url, payload=payload, timeout=settings.ALERT_HTTP_TIMEOUT)
    except AlertTransientError as exc:
        AccessNotification.objects.filter(pk=notification_pk).update(
            claimed_until=None, last_error=str(exc)[:300]
        )
        raise
    except AlertPermanentError as exc:
        logger.warning("access notification #%s refused: %s", notification_pk, exc)
        _delivery_finish(notification, DeliveryState.FAILED, str(exc))
        return False
    _delivery_finish(notification, DeliveryState.SENT, "")
    logger.info("access notification #%s (%s) sent", notification_pk, notification.kind)
    return True


def access_notifications_sweep(*, now: datetime) -> dict[str, int]:
    """The minute sweep's share: warn active grants whose warning is due (the eta'd task was
    lost or no worker ran) and re-queue deliveries left pending."""
    warned = 0
    closing = AccessGrant.objects.filter(
        state=GrantState.ACTIVE, expires_at__gt=now, expires_at__lte=now + WARNING_BEFORE
    )
    for pk in closing.values_list("pk", flat=True):
        warned += access_grant_warn(grant_pk=pk, now=now)
    stuck = AccessNotification.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        state=DeliveryState.PENDING,
        created_at__lte=now - REDELIVER_AFTER,
        created_at__gte=now - REDELIVER_UNTIL,
    )
    resent = 0
    for pk in stuck.values_list("pk", flat=True):
        _deliver_enqueue(pk)
        resent += 1
    return {"warned": warned, "notifications": resent}
