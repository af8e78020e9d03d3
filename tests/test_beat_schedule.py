"""The periodic work that guarantees rest on is scheduled: each beat entry names a task that
exists, and the entries the guarantees need run at least as often as those promise.

A renamed task or a dropped entry would otherwise go unnoticed until the guarantee quietly
stopped holding (no redelivered alert, no checkpoint, no resumed operation)."""

from __future__ import annotations

import pytest
from django.conf import settings

from mi_admin.celery import app

# entry -> the longest period (seconds) its guarantee allows
REQUIRED = {
    # a killed worker's operation is picked up again within 2 minutes (issue 8, point 2)
    "operation-dispatch": 120,
    "inventory-sync": 300,
    "health-sweep": 60,
    "health-version-sla": 3600,
    # failed or never-sent alerts are queued again every 5 minutes
    "health-redeliver-alerts": 300,
    "health-prune-samples": 86400,
    # the trail is signed "periodically" (issue 8, point 8)
    "audit-checkpoint": 3600,
    # repeated failures within a minute become one event with a count (issue 8, point 10)
    "audit-fold-failures": 60,
    "approvals-expire": 60,
    # request SLA warnings/pages and the sweep of finished request operations
    "requests-tick": 60,
    # a trial's owner is asked, and an expired trial pages, within the hour (issue 11)
    "instances-trials-check": 3600,
}


def test_every_beat_entry_names_a_registered_task():
    # given the Celery app with every app's tasks discovered
    app.loader.import_default_modules()
    registered = set(app.tasks)
    # when each beat entry is looked up
    missing = {
        name: entry["task"]
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] not in registered
    }
    # then none names a task that does not exist
    assert missing == {}


@pytest.mark.parametrize(("entry", "longest"), sorted(REQUIRED.items()))
def test_the_guarantees_periodic_work_is_scheduled_often_enough(entry, longest):
    # given the beat schedule; when the entry a guarantee rests on is read
    schedule = settings.CELERY_BEAT_SCHEDULE.get(entry)
    # then it exists and runs at least as often as the guarantee needs
    assert schedule is not None, f"beat entry {entry!r} is missing"
    period = schedule["schedule"]
    assert isinstance(period, int | float)
    assert 0 < period <= longest
