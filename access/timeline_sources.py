"""Access grants on the instance timeline (registered by ``AccessConfig.ready``): one event
per grant, when it was asked for, with where it stands; its own page tells the rest."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse

from access.models import AccessGrant
from instances.models import Instance
from instances.timeline import TimelineEvent, newest_events, register_timeline_source


def _grant_event(grant: AccessGrant) -> TimelineEvent:
    return TimelineEvent(
        at=grant.created_at,
        kind="access",
        title=f"Access requested: {grant.level.name}",
        detail=grant.get_state_display(),
        actor=grant.requester.get_username(),
        outcome=grant.state,
        url=reverse("access:grant", args=[grant.pk]),
    )


def grant_events(instance: Instance, before: datetime | None, limit: int) -> list[TimelineEvent]:
    grants = AccessGrant.objects.filter(instance=instance).select_related("requester", "level")
    return newest_events(grants, at="created_at", before=before, limit=limit, event=_grant_event)


def register() -> None:
    register_timeline_source("access", grant_events, label="Access grants", order=60)
