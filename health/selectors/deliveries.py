"""Alert deliveries still owed: what the redelivery sweep (``incident_redeliver``) queues
again. Sending is :mod:`health.services.deliveries`."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from health.choices import DeliveryAction, DeliveryState, IncidentState
from health.models import AlertDelivery, Incident
from mi_admin.alerts.dispatch import configured_notifiers

REDELIVERY_MAX_ATTEMPTS = 10


def deliveries_pending(
    *, now: datetime, grace: timedelta = timedelta(minutes=5)
) -> list[tuple[int, str]]:
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
        | Q(action=DeliveryAction.RESOLVE, incident__state=IncidentState.RESOLVED)
        | Q(action=DeliveryAction.ACKNOWLEDGE, incident__acknowledged_at__isnull=False),
        incident__opened_at__lt=cutoff,
    ).values_list("incident_id", "action"):
        pending.add((incident_id, action))
    if configured_notifiers():
        never_sent = Incident.objects.filter(
            state=IncidentState.OPEN, opened_at__lt=cutoff, deliveries__isnull=True
        ).values_list("pk", flat=True)
        pending.update((pk, DeliveryAction.TRIGGER.value) for pk in never_sent)
    return sorted(pending)
