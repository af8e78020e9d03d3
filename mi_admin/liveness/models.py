"""Liveness records: one row per periodic task, per worker node and per internal watch.

Every write is an upsert or a conditional update on these rows, so they never grow with
the number of runs.
"""

from __future__ import annotations

from django.db import models


class PeriodicTaskRun(models.Model):
    """A periodic task's last successful (and last failed) run, upserted by the Celery
    signals after each run of a task in the beat schedule."""

    task = models.CharField(max_length=200, unique=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["task"]

    def __str__(self) -> str:
        return self.task


class WorkerAnswer(models.Model):
    """When a worker node last ran the liveness ping (a task from the queue, so the broker
    and the worker's pool both worked). One row per node name."""

    hostname = models.CharField(max_length=200, unique=True)
    answered_at = models.DateTimeField()

    class Meta:
        ordering = ["-answered_at"]

    def __str__(self) -> str:
        return self.hostname


class WatchAlert(models.Model):
    """The state of one internal watch's alert (today only ``health-sweep-missed``):
    raised or not, and the channels its trigger reached. The row is what makes the alert
    go out once per episode: a check that finds it raised sends nothing new."""

    key = models.CharField(max_length=100, unique=True)
    raised_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    channels_sent = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key
