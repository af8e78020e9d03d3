"""Celery tasks of the audit trail: thin wrappers around the services, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from mi_admin.audit.models import AuditCheckpoint
from mi_admin.audit.services import audit_checkpoint_record, audit_failures_fold


@shared_task(acks_late=True)
def audit_checkpoint() -> int | None:
    """Sign the trail's current length (beat, hourly). A repeat is one more witness."""
    checkpoint = audit_checkpoint_record(reason=AuditCheckpoint.Reason.PERIODIC)
    return None if checkpoint is None else checkpoint.last_event_id


@shared_task(acks_late=True)
def audit_failures_fold_task() -> int:
    """Write the summary event of every failure window older than a minute (beat, 1 min)."""
    return audit_failures_fold()
