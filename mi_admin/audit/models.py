"""The audit trail: an append-only, hash-chained record of every login and every change."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One thing that happened: who did what to which object, with before/after values.

    Rows are never updated, deleted or truncated (PostgreSQL triggers refuse it). Each row's
    ``hash`` covers its content as stored and the previous row's hash, so
    ``manage.py audit_verify`` names every row altered or removed behind the application's
    back; signed :class:`AuditCheckpoint` rows catch what a chain alone cannot (a deleted
    tail, a truncated table, a re-hashed history).
    """

    created_at = models.DateTimeField(db_index=True)
    # No FK constraint and no cascade: deleting a user must not touch (or be blocked by)
    # the trail, and the trail keeps the name they had in ``actor_label``.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=128, blank=True, db_index=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label or 'system'} {self.action}"


class AuditCheckpoint(models.Model):
    """A signed statement of how long the trail was: last id, its hash and the row count.

    The signature is an HMAC with ``AUDIT_CHECKPOINT_KEY``, which lives outside the
    database, so someone who can write to the database can neither forge a checkpoint nor
    re-hash the chain past one without ``audit_verify`` noticing. The same line is written
    to the application log, a copy outside the database. Append-only like the events.
    """

    class Reason(models.TextChoices):
        PERIODIC = "periodic", "periodic"
        VERIFY = "verify", "audit_verify"

    created_at = models.DateTimeField()
    last_event_id = models.BigIntegerField()
    last_hash = models.CharField(max_length=64)
    event_count = models.BigIntegerField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"checkpoint {self.last_event_id} ({self.event_count} events)"


class FailureWindow(models.Model):
    """A count of repeated failures (e.g. failed logins) from one source in one minute.

    Not part of the audit trail: the first failure of a window is an audit event at once;
    later ones in the same minute only add to ``count`` here, and one summary event with
    the count replaces the window (``audit_failures_fold``). So a flood from one address
    writes two rows a minute, not one per request.
    """

    action = models.CharField(max_length=64)
    source = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField()
    last_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)
    sample = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["action", "source"], name="audit_one_failure_window")
        ]

    def __str__(self) -> str:
        return f"{self.action} from {self.source or 'unknown'}: {self.count}"
