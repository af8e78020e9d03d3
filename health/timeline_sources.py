"""Health's events on the instance timeline (registered by ``HealthConfig.ready``): state
transitions, incidents opened and resolved, maintenance windows."""

from __future__ import annotations

from datetime import datetime

from django.db.models.functions import Coalesce
from django.urls import reverse

from health.models import HealthTransition, Incident, MaintenanceWindow
from instances.models import Instance
from instances.timeline import TimelineEvent, newest_events, register_timeline_source


def transition_events(
    instance: Instance, before: datetime | None, limit: int
) -> list[TimelineEvent]:
    url = reverse("health:instance_health", args=[instance.slug])

    def event(transition: HealthTransition) -> TimelineEvent:
        return TimelineEvent(
            at=transition.at,
            kind="health",
            title=(
                f"Health {transition.get_from_state_display().lower()} → "
                f"{transition.get_to_state_display().lower()}"
            ),
            detail=transition.reason,
            outcome=transition.to_state,
            url=url,
        )

    transitions = HealthTransition.objects.filter(instance=instance)
    return newest_events(transitions, at="at", before=before, limit=limit, event=event)


def incident_events(instance: Instance, before: datetime | None, limit: int) -> list[TimelineEvent]:
    # Ordered by the latest of its two moments: the newest ``limit`` incidents hold every
    # one of the newest ``limit`` opened/resolved events.
    incidents = Incident.objects.filter(instance=instance).annotate(
        last=Coalesce("resolved_at", "opened_at")
    )
    if before is not None:
        incidents = incidents.filter(opened_at__lt=before)
    events = []
    for incident in incidents.order_by("-last", "-pk")[:limit]:
        url = reverse("health:instance_health", args=[instance.slug])
        cause = incident.get_cause_display()
        events.append(
            TimelineEvent(
                at=incident.opened_at,
                kind="incident",
                title=f"Incident opened ({cause})",
                detail=incident.summary,
                outcome=incident.state,
                url=url,
            )
        )
        if incident.resolved_at and (before is None or incident.resolved_at < before):
            events.append(
                TimelineEvent(
                    at=incident.resolved_at,
                    kind="incident",
                    title=f"Incident resolved ({cause})",
                    detail=incident.summary,
                    outcome="resolved",
                    url=url,
                )
            )
    return events


def maintenance_events(
    instance: Instance, before: datetime | None, limit: int
) -> list[TimelineEvent]:
    # A one-off window stands where it happens; a weekly one where it was set.
    url = reverse("health:instance_health", args=[instance.slug])

    def event(window: MaintenanceWindow) -> TimelineEvent:
        return TimelineEvent(
            at=window.at,  # type: ignore[attr-defined]  # the annotation below
            kind="maintenance",
            title=f"Maintenance window ({window.get_kind_display().lower()})",
            detail=f"{window}: {window.reason}",
            actor=window.created_by.get_username() if window.created_by else "system",
            url=url,
        )

    windows = (
        MaintenanceWindow.objects.filter(instance=instance)
        .annotate(at=Coalesce("starts_at", "created_at"))
        .select_related("created_by")
    )
    return newest_events(windows, at="at", before=before, limit=limit, event=event)


def register() -> None:
    register_timeline_source("health", transition_events, label="Health transitions", order=30)
    register_timeline_source("incident", incident_events, label="Incidents", order=40)
    register_timeline_source("maintenance", maintenance_events, label="Maintenance", order=50)
