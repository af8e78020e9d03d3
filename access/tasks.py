"""Celery tasks of the access app: thin, safe to run twice (each service re-checks the
grant under its row lock)."""

from __future__ import annotations

from celery import shared_task

from access.choices import GrantState
from access.models import AccessGrant
from access.notifications import access_grant_warn, access_notification_deliver
from access.services import (
    AccessError,
    access_grant_activate_if_due,
    access_grant_end,
    access_grants_sweep,
)
from mi_admin.alerts.base import AlertTransientError


@shared_task(acks_late=True)
def access_grant_activate_due(grant_pk: int) -> bool:
    """Sent with ``eta`` = the scheduled start; the sweep catches a lost message."""
    return access_grant_activate_if_due(grant_pk=grant_pk)


@shared_task(acks_late=True)
def access_grant_expire(grant_pk: int) -> bool:
    """Sent with ``eta`` = ``expires_at``; nothing happens if the grant ended already or its
    expiry is not due (the sweep ends what this misses)."""
    try:
        access_grant_end(grant=AccessGrant(pk=grant_pk), actor=None, state=GrantState.EXPIRED)
    except AccessError:
        return False
    return True


@shared_task(acks_late=True)
def access_grants_sweep_task() -> dict[str, int]:
    """Beat, every minute: ends grants past expiry, starts due activations, retries removals."""
    return access_grants_sweep()


@shared_task(acks_late=True)
def access_grant_warn_task(grant_pk: int) -> bool:
    """Sent with ``eta`` = ``expires_at - 10 min``; an extension made the old one moot (it
    finds nothing due), the sweep covers a lost one, the marker row a repeated one."""
    return access_grant_warn(grant_pk=grant_pk)


@shared_task(
    acks_late=True,
    autoretry_for=(AlertTransientError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def access_notification_deliver_task(notification_pk: int) -> bool:
    """Post one message to the holder; a repeat finds it claimed or sent and does nothing."""
    return access_notification_deliver(notification_pk=notification_pk)
