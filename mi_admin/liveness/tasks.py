"""The liveness ping: queued by each worker's watchdog (not by beat), run by whichever
worker takes it. Running it proves the broker delivers and a worker's pool executes."""

from __future__ import annotations

from celery import shared_task
from celery.app.task import Task
from django.utils import timezone

from mi_admin.liveness.services import worker_answer_record

PING_TASK = "mi_admin.liveness.tasks.liveness_ping"


@shared_task(bind=True, acks_late=True, ignore_result=True)
def liveness_ping(self: Task) -> None:
    """Record that this worker node answered (an upsert: safe to run twice)."""
    worker_answer_record(hostname=str(self.request.hostname or "unknown"), at=timezone.now())
