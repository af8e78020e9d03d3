"""Trials: their end date, the owning CE's decision, and DevOps' page when none came.

A trial instance gets an end date when it goes live (``TRIAL_DAYS`` later, see
``provisioning.py``); DevOps/Admin move it with a reason (:func:`instance_trial_end_set`).
The hourly beat task runs :func:`trials_check`:

* from ``DECISION_WORKING_DAYS`` working days before the end (the SLA calendar: weekends,
  holidays) until the end, the owning CE is asked once to extend it (a request), convert it
  to production or tear it down: a :class:`~instances.models.TrialNotice` of kind
  ``decision_asked``, sent to Slack (a message to a person, not a page);
* after the end, a trial still active with no decision pages DevOps once: a notice of kind
  ``expired``, sent to every configured alert channel.

"Once" is the unique row (instance, kind, end date): two beat runs at once insert one row
and only the run that inserted it queues the sending. Sending locks the row and records each
channel that took it, so a retry sends only to the channels still missing. A decision is:
the end date moved (a new date is a new trial period), the kind changed (converted to
production, :func:`instance_trial_convert`), the instance no longer active, or a suspension
or teardown under way.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from instances.choices import (
    ACTIVE_OPERATION_STATES,
    InstanceKind,
    LifecycleState,
    OperationKind,
    TrialNoticeKind,
)
from instances.models import Instance, Operation, TrialNotice
from mi_admin.accounts.models import User
from mi_admin.alerts.base import (
    Alert,
    AlertAction,
    AlertDeliveryError,
    AlertTransientError,
    Notifier,
    Severity,
)
from mi_admin.alerts.dispatch import configured_notifiers, send_with_retry
from mi_admin.audit.services import audit_record
from mi_admin.queue import task_enqueue
from mi_admin.sla import WorkCalendar, is_working_day, work_calendar_from_settings

logger = logging.getLogger(__name__)

DECISION_WORKING_DAYS = 5
# The hourly check stops re-queueing a notice no channel would take after this many tries.
MAX_SEND_ATTEMPTS = 20
NOTICE_SEND_TASK = "instances.tasks.trial_notice_send"
# The request form's agreed address (CONTRACT-lifecycle.md): kind and instance preselected.
REQUEST_NEW_PATH = "/requests/new/"
# Kinds whose operation, under way, is a decision already taken about the trial's future.
_DECIDING_OPERATIONS = (OperationKind.SUSPEND, OperationKind.TEARDOWN)


def working_days_before(day: dt.date, days: int, *, calendar: WorkCalendar) -> dt.date:
    """The ``days``-th working day before ``day`` (``day`` itself not counted).

    For a Friday end and 5 days: the Friday before. A weekend or holiday in between is
    skipped, and so is the end day itself when it is not worked.
    """
    if days < 1:
        raise ValueError("days must be >= 1")
    current, counted = day, 0
    for _ in range(days * 7 + 60):
        current -= dt.timedelta(days=1)
        if is_working_day(current, calendar=calendar):
            counted += 1
            if counted == days:
                return current
    raise ValueError(f"no {days} working days before {day.isoformat()}")


def trial_decision_date(ends_on: dt.date, *, calendar: WorkCalendar | None = None) -> dt.date:
    """When the owning CE is asked to decide about a trial ending on ``ends_on``."""
    calendar = calendar or work_calendar_from_settings()
    return working_days_before(ends_on, DECISION_WORKING_DAYS, calendar=calendar)


def instance_owner(instance: Instance) -> User | None:
    """The owning CE: the instance's own, else its customer's."""
    return instance.owner or instance.customer.owner_ce


def trial_request_links(instance: Instance) -> list[tuple[str, str]]:
    """The decision's three ways, as links the CE can follow."""
    site = str(getattr(settings, "SITE_URL", "")).rstrip("/")
    page = site + reverse("instances:instance_detail", kwargs={"slug": instance.slug})

    def request(kind: str) -> str:
        return f"{site}{REQUEST_NEW_PATH}?{urlencode({'kind': kind, 'instance': instance.slug})}"

    return [
        ("Extend the trial (request)", request("trial_extension")),
        ("Tear it down (request)", request("teardown")),
        ("Convert to production: the instance page", page),
    ]


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why (a reason is required and goes in the audit trail).")
    return reason[:1000]


def instance_trial_end_set(
    *, instance: Instance, ends_on: dt.date, actor: User, reason: str
) -> Instance:
    """Move a trial's end date (DevOps/Admin), audited; the new date gets its own notices."""
    reason = _reason(reason)
    with transaction.atomic():
        locked = Instance.objects.select_for_update().get(pk=instance.pk)
        if locked.kind != InstanceKind.TRIAL:
            raise ValidationError(f"{locked.slug} is not a trial; it has no end date.")
        if locked.went_live_at is not None and ends_on < locked.went_live_at.date():
            raise ValidationError(
                f"A trial cannot end ({ends_on:%Y-%m-%d}) before it went live "
                f"({locked.went_live_at:%Y-%m-%d})."
            )
        before = locked.trial_ends_on
        if before == ends_on:
            return locked
        locked.trial_ends_on = ends_on
        locked.save(update_fields=["trial_ends_on", "updated_at"])
        audit_record(
            action="instance.trial_end_changed",
            actor=actor,
            obj=locked,
            before={"trial_ends_on": before.isoformat() if before else None},
            after={"trial_ends_on": ends_on.isoformat(), "reason": reason},
        )
    return locked


def instance_trial_convert(*, instance: Instance, actor: User, reason: str) -> Instance:
    """Make a trial a production instance (the "convert" decision), audited."""
    reason = _reason(reason)
    with transaction.atomic():
        locked = Instance.objects.select_for_update().get(pk=instance.pk)
        if locked.kind != InstanceKind.TRIAL:
            raise ValidationError(f"{locked.slug} is not a trial.")
        before = locked.trial_ends_on
        locked.kind = InstanceKind.PRODUCTION
        locked.save(update_fields=["kind", "updated_at"])
        audit_record(
            action="instance.trial_converted",
            actor=actor,
            obj=locked,
            before={
                "kind": InstanceKind.TRIAL,
                "trial_ends_on": before.isoformat() if before else None,
            },
            after={"kind": InstanceKind.PRODUCTION, "reason": reason},
        )
    return locked


def instance_owner_set(*, instance: Instance, owner: User | None, actor: User) -> Instance:
    """Set (or clear, falling back to the customer's CE) the instance's owning CE, audited."""
    with transaction.atomic():
        locked = Instance.objects.select_for_update().get(pk=instance.pk)
        before = locked.owner
        if before == owner:
            return locked
        locked.owner = owner
        locked.save(update_fields=["owner", "updated_at"])
        audit_record(
            action="instance.owner_changed",
            actor=actor,
            obj=locked,
            before={"owner": before.get_username() if before else None},
            after={"owner": owner.get_username() if owner else None},
        )
    return locked


@dataclass
class TrialsReport:
    asked: list[str] = field(default_factory=list)
    paged: list[str] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"asked": self.asked, "paged": self.paged, "queued": self.queued}


def _trials_open() -> list[Instance]:
    """Active trials with an end date and no suspension or teardown under way."""
    # One subquery, so kind and state are those of the same operation (two conditions
    # across a relation in one exclude() need not hold for the same row).
    deciding = Operation.objects.filter(
        instance=OuterRef("pk"),
        kind__in=_DECIDING_OPERATIONS,
        state__in=ACTIVE_OPERATION_STATES,
    )
    return list(
        Instance.objects.filter(
            kind=InstanceKind.TRIAL, state=LifecycleState.ACTIVE, trial_ends_on__isnull=False
        )
        .exclude(Exists(deciding))
        .select_related("owner", "customer__owner_ce")
        .order_by("pk")
    )


def _notice_create(instance: Instance, kind: TrialNoticeKind) -> TrialNotice | None:
    """The notice for the instance's current end date; None when it exists already (this
    run is not the one that sends it)."""
    assert instance.trial_ends_on is not None
    try:
        with transaction.atomic():
            notice = TrialNotice.objects.create(
                instance=instance,
                kind=kind,
                trial_ends_on=instance.trial_ends_on,
                recipient=instance_owner(instance)
                if kind == TrialNoticeKind.DECISION_ASKED
                else None,
            )
            audit_record(
                action=f"instance.trial_{kind}",
                obj=instance,
                actor_label="trials-check",
                after={
                    "trial_ends_on": instance.trial_ends_on.isoformat(),
                    "recipient": notice.recipient.get_username() if notice.recipient else None,
                },
            )
    except IntegrityError:
        # Another run made it first (the unique row): it sends, this one does nothing.
        return None
    return notice


def trials_check(
    *, today: dt.date | None = None, calendar: WorkCalendar | None = None
) -> TrialsReport:
    """Ask owning CEs whose trials end within ``DECISION_WORKING_DAYS`` working days, page
    DevOps about expired trials, each once; queue the sending of every notice not sent yet
    (new ones, and ones a lost message or an outage left unsent)."""
    calendar = calendar or work_calendar_from_settings()
    today = today or calendar.local_date(timezone.now())
    report = TrialsReport()
    for instance in _trials_open():
        ends_on = instance.trial_ends_on
        assert ends_on is not None
        if today > ends_on:
            if _notice_create(instance, TrialNoticeKind.EXPIRED) is not None:
                report.paged.append(instance.slug)
        elif today >= trial_decision_date(ends_on, calendar=calendar) and (
            _notice_create(instance, TrialNoticeKind.DECISION_ASKED) is not None
        ):
            report.asked.append(instance.slug)
    unsent = TrialNotice.objects.filter(sent_at__isnull=True, attempts__lt=MAX_SEND_ATTEMPTS)
    report.queued = list(unsent.order_by("pk").values_list("pk", flat=True))
    for notice_id in report.queued:
        transaction.on_commit(partial(task_enqueue, NOTICE_SEND_TASK, notice_id))
    if report.asked or report.paged:
        logger.info("trials check: %s", report.as_dict())
    return report


def trial_notice_alert(notice: TrialNotice) -> Alert:
    """The provider-neutral alert of a notice."""
    instance = notice.instance
    ends = f"{notice.trial_ends_on:%Y-%m-%d}"
    owner = notice.recipient or instance_owner(instance)
    who = (owner.get_full_name() or owner.get_username()) if owner else "no owning CE set"
    details = {
        "customer": instance.customer.name,
        "trial ends on": ends,
        "owning CE": who
        + (f" (Slack {owner.slack_user_id})" if owner and owner.slack_user_id else ""),
    }
    if notice.kind == TrialNoticeKind.DECISION_ASKED:
        return Alert(
            dedup_key=f"mi-admin/{instance.slug}/trial-decision/{ends}",
            action=AlertAction.TRIGGER,
            summary=(
                f"Trial {instance.slug} ({instance.customer.name}) ends on {ends}: {who}, "
                "please extend it, convert it to production or tear it down."
            ),
            severity=Severity.INFO,
            component=instance.slug,
            details=details,
            links=trial_request_links(instance),
        )
    return Alert(
        dedup_key=f"mi-admin/{instance.slug}/trial-expired/{ends}",
        action=AlertAction.TRIGGER,
        summary=(
            f"Trial {instance.slug} ({instance.customer.name}) expired on {ends} with no "
            f"decision ({who} was asked): extend, convert or tear it down."
        ),
        severity=Severity.ERROR,
        component=instance.slug,
        details=details,
        links=trial_request_links(instance),
    )


def _channels_for(notice: TrialNotice, notifiers: Sequence[Notifier]) -> list[Notifier]:
    # Asking a person is a message, not a page: Slack only. Expiry pages DevOps: every channel.
    if notice.kind == TrialNoticeKind.DECISION_ASKED:
        return [n for n in notifiers if n.name == "slack"]
    return list(notifiers)


@dataclass
class NoticeSendReport:
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    retry: bool = False


def trial_notice_send(
    *, notice_id: int, notifiers: Sequence[Notifier] | None = None, retry_attempts: int = 4
) -> NoticeSendReport:
    """Send one notice to each of its channels not sent yet; mark it sent when none is left.

    The row is locked while sending, so a duplicate task waits and then finds the channels
    done. With no channel configured the notice is marked sent with none (it is shown on
    the instance page and logged).
    """
    report = NoticeSendReport()
    notifiers = configured_notifiers() if notifiers is None else notifiers
    with transaction.atomic():
        # Only the notice's own row is locked (of=self): the joined owner rows may be null.
        notice = (
            TrialNotice.objects.select_for_update(of=("self",))
            .select_related("instance__customer__owner_ce", "instance__owner", "recipient")
            .filter(pk=notice_id)
            .first()
        )
        if notice is None or notice.sent_at is not None:
            return report
        alert = trial_notice_alert(notice)
        done = set(notice.channels_sent)
        for notifier in _channels_for(notice, notifiers):
            if notifier.name in done:
                continue
            try:
                send_with_retry(notifier, alert, attempts=retry_attempts)
            except AlertDeliveryError as exc:
                report.failed[notifier.name] = str(exc)[:255]
                report.retry = report.retry or isinstance(exc, AlertTransientError)
                continue
            done.add(notifier.name)
            report.sent.append(notifier.name)
        notice.channels_sent = sorted(done)
        notice.attempts += 1
        notice.last_error = "; ".join(f"{k}: {v}" for k, v in report.failed.items())[:255]
        fields = ["channels_sent", "attempts", "last_error"]
        if not report.failed:
            notice.sent_at = timezone.now()
            fields.append("sent_at")
            if not done:
                logger.warning("trial notice %s: no alert channel configured", notice.pk)
        notice.save(update_fields=fields)
    return report
