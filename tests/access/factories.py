"""Access grants built directly (the services are tested on their own)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from access.models import AccessGrant, AccessLevel
from instances.models import Instance
from mi_admin.accounts.models import User


def make_access_grant(requester: User, instance: Instance, *, pk: int | None = None) -> AccessGrant:
    """A pending SSH grant (the level comes from the data migration)."""
    return AccessGrant.objects.create(
        pk=pk,
        requester=requester,
        instance=instance,
        level=AccessLevel.objects.get(name="SSH (OS Login)"),
        member=f"user:{requester.email}",
        justification="matrix",
        duration=timedelta(minutes=30),
        requested_start=timezone.now(),
    )
