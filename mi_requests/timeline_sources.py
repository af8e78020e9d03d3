"""Customer requests on the instance timeline (registered by ``MiRequestsConfig.ready``):
one event per request about the instance, when it was submitted, with where it stands."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse

from instances.models import Instance
from instances.timeline import TimelineEvent, newest_events, register_timeline_source
from mi_requests.models import CustomerRequest


def _request_event(request: CustomerRequest) -> TimelineEvent:
    return TimelineEvent(
        at=request.submitted_at,
        kind="request",
        title=f"{request.get_kind_display()} request #{request.pk}",
        detail=request.summary,
        actor=request.requester.get_username() if request.requester else "",
        outcome=request.state,
        url=reverse("mi_requests:detail", args=[request.pk]),
    )


def request_events(instance: Instance, before: datetime | None, limit: int) -> list[TimelineEvent]:
    requests = CustomerRequest.objects.filter(instance=instance).select_related("requester")
    return newest_events(
        requests, at="submitted_at", before=before, limit=limit, event=_request_event
    )


def register() -> None:
    register_timeline_source("request", request_events, label="Customer requests", order=80)
