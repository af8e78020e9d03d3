"""Customer requests on the instance timeline (registered by ``MiRequestsConfig.ready``):
one event per request about the instance, when it was submitted, with where it stands."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse

from instances.models import Instance
from instances.timeline import TimelineEvent, register_timeline_source
from mi_requests.models import CustomerRequest


def request_events(instance: Instance, before: datetime | None, limit: int) -> list[TimelineEvent]:
    requests = CustomerRequest.objects.filter(instance=instance).select_related("requester")
    if before is not None:
        requests = requests.filter(submitted_at__lt=before)
    return [
        TimelineEvent(
            at=request.submitted_at,
            kind="request",
            title=f"{request.get_kind_display()} request #{request.pk}",
            detail=request.summary,
            actor=request.requester.get_username() if request.requester else "",
            outcome=request.state,
            url=reverse("mi_requests:detail", args=[request.pk]),
        )
        for request in requests.order_by("-submitted_at", "-pk")[:limit]
    ]


def register() -> None:
    register_timeline_source("request", request_events, label="Customer requests", order=80)
