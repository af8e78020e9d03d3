"""Incidents across the fleet: the list page's rows and one incident's page."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from health.models import AlertDelivery, Incident, IncidentNote


def incident_list() -> QuerySet[Incident]:
    """Every incident, newest first, with what a row shows (instance, customer, who
    acknowledged, how many notes) loaded in the same query."""
    return (
        Incident.objects.select_related("instance", "instance__customer", "acknowledged_by")
        .annotate(note_count=Count("notes"))
        .order_by("-opened_at", "-id")
    )


def incident_detail(incident: Incident) -> dict[str, object]:
    """One incident's notes (with their authors) and alert deliveries."""
    notes = IncidentNote.objects.filter(incident=incident).select_related("author")
    deliveries = AlertDelivery.objects.filter(incident=incident).order_by("id")
    return {"notes": list(notes), "deliveries": list(deliveries)}
