"""Alert delivery: page each configured channel at most once per incident and action.

Delivery records one :class:`~health.models.AlertDelivery` per (incident, channel, action),
locked while sending, so a task run twice never sends a channel the same thing twice. A
trigger goes out only while the incident is open; a resolve only to the channels whose
trigger went out. An acknowledge (someone took the incident) goes, like a resolve, only to
the channels whose trigger went out, and only once the incident is acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from health.choices import DeliveryAction, DeliveryState, IncidentCause, IncidentState
from health.models import AlertDelivery, Incident
from instances.choices import InstanceKind
from mi_admin.alerts.base import (
    Alert,
    AlertAction,
    AlertDeliveryError,
    AlertTransientError,
    Notifier,
    Severity,
)
from mi_admin.alerts.dispatch import configured_notifiers, send_with_retry

logger = logging.getLogger(__name__)


def _severity(incident: Incident) -> Severity:
    if incident.cause == IncidentCause.VERSION_SLA:
        return Severity.WARNING
    return {
        InstanceKind.PRODUCTION: Severity.CRITICAL,
        InstanceKind.TRIAL: Severity.ERROR,
    }.get(incident.instance.kind, Severity.WARNING)  # type: ignore[call-overload]


def incident_alert(*, incident: Incident, action: str) -> Alert:
    """The provider-neutral alert for one incident's trigger or resolve."""
    site = str(getattr(settings, "SITE_URL", "")).rstrip("/")
    link = site + reverse("health:instance_health", kwargs={"slug": incident.instance.slug})
    summary = incident.summary
    if action == DeliveryAction.ACKNOWLEDGE:
        who = incident.acknowledged_by.get_username() if incident.acknowledged_by else "someone"
        summary = f"{summary} (acknowledged by {who} in MI Admin)"
    return Alert(
        dedup_key=incident.dedup_key,
        action=AlertAction(action),
        summary=summary,
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


def incident_alerts_send(
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
    incident = (
        Incident.objects.select_related("instance", "acknowledged_by")
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:
        return report
    if action == DeliveryAction.TRIGGER and incident.state != IncidentState.OPEN:
        logger.info("incident %s resolved before its trigger went out", incident.dedup_key)
        return report
    if action == DeliveryAction.ACKNOWLEDGE and incident.acknowledged_at is None:
        logger.info("incident %s is not acknowledged; nothing to send", incident.dedup_key)
        return report
    triggered = set(
        incident.deliveries.filter(
            action=DeliveryAction.TRIGGER, state=DeliveryState.SENT
        ).values_list("channel", flat=True)
    )
    alert = incident_alert(incident=incident, action=action)
    for notifier in configured_notifiers() if notifiers is None else notifiers:
        if action != DeliveryAction.TRIGGER and notifier.name not in triggered:
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
