"""What the API keeps: the answers given to POSTs that carried an ``Idempotency-Key``."""

from __future__ import annotations

from django.db import models


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` of one caller (``subject``: the user id): the request's
    fingerprint and, once answered, the answer replayed to a retry of the same request."""

    subject = models.CharField(max_length=255)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    state = models.CharField(
        max_length=16, choices=IdempotencyState.choices, default=IdempotencyState.IN_PROGRESS
    )
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject", "key"], name="unique_idempotency_key"),
            models.CheckConstraint(
                condition=~models.Q(state="done") | models.Q(status__isnull=False),
                name="idempotency_done_has_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.key} ({self.state})"
