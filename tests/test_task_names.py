"""Services queue their own app's tasks by name (mi_admin.queue), since tasks sit above
services in the layers. Each name must be a registered task, or the work would never run."""

from __future__ import annotations

import pytest

from access.notifications import DELIVER_TASK, WARN_TASK
from access.services import ACTIVATE_DUE_TASK, EXPIRE_TASK
from health.services.incidents import INCIDENT_DELIVER_TASK
from instances.services.operations import OPERATION_RUN_TASK
from mi_admin.approvals.services import SLACK_NOTIFY_TASK
from mi_admin.approvals.slack_views import REPLY_TASK
from mi_admin.celery import app
from mi_admin.liveness.tasks import PING_TASK
from rollouts.services import ADVANCE_AFTER_TASK, ADVANCE_ROLLOUT_TASK

NAMES = [
    ACTIVATE_DUE_TASK,
    ADVANCE_AFTER_TASK,
    ADVANCE_ROLLOUT_TASK,
    EXPIRE_TASK,
    INCIDENT_DELIVER_TASK,
    OPERATION_RUN_TASK,
    PING_TASK,
    SLACK_NOTIFY_TASK,
    DELIVER_TASK,
    WARN_TASK,
    REPLY_TASK,
]


@pytest.mark.parametrize("name", NAMES)
def test_every_task_a_service_queues_by_name_is_registered(name):
    # given the Celery app with every app's tasks discovered
    app.loader.import_default_modules()
    # when the name a service queues is looked up; then it is a registered task
    assert name in app.tasks
