"""Incidents and their alerts: open once, resolve once, page each channel at most once.

The sweep calls :func:`sync_down_incidents` with the states it just derived; the hourly
version check calls :func:`sync_version_incidents`. Opening or resolving an incident queues
:func:`deliver` (through ``health.tasks.incident_deliver``) once the transaction commits.
Delivery records one :class:`~health.models.AlertDelivery` per (incident, channel, action),
locked while sending, so a task run twice never sends a channel the same thing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from health.choices import DeliveryAction, DeliveryState, HealthState, IncidentCause, IncidentState
from health.models import AlertDelivery, Incident, InstanceHealth
from instances.choices import InstanceKind, LifecycleState
from instances.models import Instance
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

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "health-monitor"
Enqueue = Callable[[int, str], None]


def _enqueue_delivery(incident_id: int, action: str) -> None:
    from health.tasks import incident_deliver  # tasks import this module, not the reverse

    incident_deliver.delay(incident_id, action)


def dedup_key(slug: str, cause: str) -> str:
    return f"mi-admin/{slug}/{cause}"


def _open(
    instance: Instance,
    cause: IncidentCause,
    summary: str,
    details: dict[str, Any],
    now: datetime,
    enqueue: Enqueue,
) -> Incident | None:
    """Open an incident unless one is open for the same instance and cause."""
    if Incident.objects.filter(instance=instance, cause=cause, state=IncidentState.OPEN).exists():
        return None
    incident = Incident.objects.create(
        instance=instance,
        cause=cause,
        dedup_key=dedup_key(instance.slug, cause),
        summary=summary[:255],
        details=details,
        opened_at=now,
    )
    audit_record(
        action=f"health.incident.{cause}.opened",
        actor_label=SYSTEM_ACTOR,
        obj=instance,
        after={"incident": incident.pk, "summary": incident.summary},
    )
    transaction.on_commit(lambda: enqueue(incident.pk, DeliveryAction.TRIGGER))
    logger.info("incident %s opened: %s", incident.dedup_key, incident.summary)
    return incident


def _resolve(incident: Incident, reason: str, now: datetime, enqueue: Enqueue) -> bool:
    updated = Incident.objects.filter(pk=incident.pk, state=IncidentState.OPEN).update(
        state=IncidentState.RESOLVED, resolved_at=now
    )
    if not updated:
        return False
    audit_record(
        action=f"health.incident.{incident.cause}.resolved",
        actor_label=SYSTEM_ACTOR,
        obj=incident.instance,
        after={"incident": incident.pk, "reason": reason},
    )
    transaction.on_commit(lambda: enqueue(incident.pk, DeliveryAction.RESOLVE))
    logger.info("incident %s resolved: %s", incident.dedup_key, reason)
    return True


@dataclass
class IncidentChanges:
    opened: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)


def sync_down_incidents(
    *,
    healths: Sequence[InstanceHealth],
    muted: set[int],
    now: datetime | None = None,
    enqueue: Enqueue = _enqueue_delivery,
) -> IncidentChanges:
    """Open a ``down`` incident for each down instance outside maintenance (``muted``)
    without one; resolve open ones whose instance answers again.

    Call inside the sweep's transaction; ``healths`` need ``instance`` loaded.
    """
    now = now or timezone.now()
    changes = IncidentChanges()
    open_by_instance = {
        incident.instance_id: incident
        for incident in Incident.objects.select_related("instance").filter(
            cause=IncidentCause.DOWN, state=IncidentState.OPEN
        )
    }
    for health in healths:
        incident = open_by_instance.get(health.instance_id)
        if health.state == HealthState.DOWN and incident is None:
            if health.instance_id in muted:
                continue
            opened = _open(
                health.instance,
                IncidentCause.DOWN,
                _down_summary(health),
                _down_details(health),
                now,
                enqueue,
            )
            if opened is not None:
                changes.opened.append(opened)
        elif (
            incident is not None
            and health.state in (HealthState.HEALTHY, HealthState.DEGRADED)
            and _resolve(incident, f"instance is {health.state} again", now, enqueue)
        ):
            changes.resolved.append(incident)
    return changes


def resolve_for_inactive(
    *, now: datetime | None = None, enqueue: Enqueue = _enqueue_delivery
) -> list[Incident]:
    """Resolve every open incident of an instance no longer active (suspended, torn down):
    nobody probes it or holds it to the version SLA any more."""
    now = now or timezone.now()
    resolved = []
    with transaction.atomic():
        stale = Incident.objects.select_related("instance").filter(state=IncidentState.OPEN)
        for incident in stale.exclude(instance__state=LifecycleState.ACTIVE):
            if _resolve(incident, f"instance is {incident.instance.state}", now, enqueue):
                resolved.append(incident)
    return resolved


def _down_summary(health: InstanceHealth) -> str:
    error = health.last_error or "no answer"
    return f"{health.instance.slug} is down: {error}"


def _down_details(health: InstanceHealth) -> dict[str, Any]:
    instance = health.instance
    return {
        "instance": instance.slug,
        "url": instance.url,
        "kind": instance.kind,
        "customer_id": instance.customer_id,
        "last_error": health.last_error,
        "consecutive_failures": health.consecutive_failures,
        "last_ok_at": health.last_ok_at.isoformat() if health.last_ok_at else None,
    }


def sync_version_incidents(
    *,
    breached: dict[int, dict[str, Any]],
    candidates: Iterable[Instance],
    now: datetime | None = None,
    enqueue: Enqueue = _enqueue_delivery,
) -> IncidentChanges:
    """Open a ``version_sla`` incident for each breached instance (id → details) among
    ``candidates`` (active, not in maintenance) without one; resolve every open one whose
    instance is no longer breached."""
    now = now or timezone.now()
    changes = IncidentChanges()
    open_by_instance = {
        incident.instance_id: incident
        for incident in Incident.objects.select_related("instance").filter(
            cause=IncidentCause.VERSION_SLA, state=IncidentState.OPEN
        )
    }
    with transaction.atomic():
        for instance in candidates:
            details = breached.get(instance.pk)
            if details is None or instance.pk in open_by_instance:
                continue
            summary = (
                f"{instance.slug} runs {details['observed'] or 'an unknown version'}, "
                f"{details['text']} for {details['latest']}"
            )
            opened = _open(instance, IncidentCause.VERSION_SLA, summary, details, now, enqueue)
            if opened is not None:
                changes.opened.append(opened)
        for instance_id, incident in open_by_instance.items():
            if instance_id not in breached and _resolve(
                incident, "instance runs the newest release", now, enqueue
            ):
                changes.resolved.append(incident)
    return changes


# --- delivery ----------------------------------------------------------------------------


def _severity(incident: Incident) -> Severity:
    if incident.cause == IncidentCause.VERSION_SLA:
        return Severity.WARNING
    return {
        InstanceKind.PRODUCTION: Severity.CRITICAL,
        InstanceKind.TRIAL: Severity.ERROR,
    }.get(incident.instance.kind, Severity.WARNING)  # type: ignore[call-overload]


def build_alert(incident: Incident, action: str) -> Alert:
    """The provider-neutral alert for one incident's trigger or resolve."""
    site = str(getattr(settings, "SITE_URL", "")).rstrip("/")
    link = site + reverse("health:instance_health", kwargs={"slug": incident.instance.slug})
    return Alert(
        dedup_key=incident.dedup_key,
        action=AlertAction(action),
        summary=incident.summary,
        severity=_severity(incident),
        source="mi-admin",
        component=incident.instance.slug,
        details={
            **incident.details,
            "cause": incident.cause,
            "opened_at": incident.opened_at.isoformat(),
        },
        links=[("Instance health in MI Admin", link)],
    )


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    retry: bool = False  # a transient failure: the task should try again later


def deliver(
    *,
    incident_id: int,
    action: str,
    notifiers: Sequence[Notifier] | None = None,
    retry_attempts: int = 4,
) -> DeliveryReport:
    """Send the incident's trigger or resolve to every configured channel not yet sent.

    A trigger is only sent while the incident is open; a resolve only to channels whose
    trigger went out.
    """
    report = DeliveryReport()
    incident = Incident.objects.select_related("instance").filter(pk=incident_id).first()
    if incident is None:
        return report
    if action == DeliveryAction.TRIGGER and incident.state != IncidentState.OPEN:
        logger.info("incident %s resolved before its trigger went out", incident.dedup_key)
        return report
    triggered = set(
        incident.deliveries.filter(
            action=DeliveryAction.TRIGGER, state=DeliveryState.SENT
        ).values_list("channel", flat=True)
    )
    alert = build_alert(incident, action)
    for notifier in configured_notifiers() if notifiers is None else notifiers:
        if action == DeliveryAction.RESOLVE and notifier.name not in triggered:
            report.skipped.append(notifier.name)
            continue
        _deliver_one(incident, notifier, alert, action, report, retry_attempts)
    return report


def _deliver_one(
    incident: Incident,
    notifier: Notifier,
    alert: Alert,
    action: str,
    report: DeliveryReport,
    retry_attempts: int,
) -> None:
    with transaction.atomic():
        AlertDelivery.objects.get_or_create(
            incident=incident,
            channel=notifier.name,
            action=action,
            defaults={"state": DeliveryState.FAILED, "error": "not sent yet"},
        )
        # The row lock makes a concurrent run of the same delivery wait, then skip.
        row = AlertDelivery.objects.select_for_update().get(
            incident=incident, channel=notifier.name, action=action
        )
        if row.state == DeliveryState.SENT:
            report.skipped.append(notifier.name)
            return
        row.attempts += 1
        try:
            send_with_retry(notifier, alert, attempts=retry_attempts)
        except AlertDeliveryError as exc:
            row.state, row.error = DeliveryState.FAILED, str(exc)[:255]
            report.failed[notifier.name] = row.error
            report.retry = report.retry or isinstance(exc, AlertTransientError)
        else:
            row.state, row.error, row.sent_at = DeliveryState.SENT, "", timezone.now()
            report.sent.append(notifier.name)
        row.save(update_fields=["state", "error", "sent_at", "attempts"])


REDELIVERY_MAX_ATTEMPTS = 10


def undelivered(*, now: datetime, grace: timedelta = timedelta(minutes=5)) -> list[tuple[int, str]]:
    """(incident id, action) pairs whose delivery failed or never happened, past a grace
    period that leaves the first delivery task its time. Bounded by attempts, so a channel
    that keeps refusing (a revoked key) is not hammered forever."""
    cutoff = now - grace
    failed = AlertDelivery.objects.filter(
        state=DeliveryState.FAILED, attempts__lt=REDELIVERY_MAX_ATTEMPTS
    )
    pending: set[tuple[int, str]] = set()
    for incident_id, action in failed.filter(
        Q(action=DeliveryAction.TRIGGER, incident__state=IncidentState.OPEN)
        | Q(action=DeliveryAction.RESOLVE, incident__state=IncidentState.RESOLVED),
        incident__opened_at__lt=cutoff,
    ).values_list("incident_id", "action"):
        pending.add((incident_id, action))
    if configured_notifiers():
        never_sent = Incident.objects.filter(
            state=IncidentState.OPEN, opened_at__lt=cutoff, deliveries__isnull=True
        ).values_list("pk", flat=True)
        pending.update((pk, DeliveryAction.TRIGGER.value) for pk in never_sent)
    return sorted(pending)
