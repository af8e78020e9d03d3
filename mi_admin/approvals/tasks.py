"""Celery tasks of the approval engine: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from mi_admin.approvals.services import approval_requests_expire


@shared_task(acks_late=True)
def approval_requests_expire_task() -> int:
    """Expire pending requests past their time (beat, every minute). A repeat finds none."""
    return approval_requests_expire()
