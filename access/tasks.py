"""Celery tasks of the access app: thin, safe to run twice (each service re-checks the
grant under its row lock)."""

from __future__ import annotations

from celery import shared_task

from access.choices import GrantState
from access.models import AccessGrant
from access.services import (
    AccessError,
    access_grant_activate_if_due,
    access_grant_end,
    access_grants_sweep,
)


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
