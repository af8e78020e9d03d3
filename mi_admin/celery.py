"""The Celery app. Settings come from Django's (``CELERY_*``); tasks live in each app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mi_admin.settings")

app = Celery("mi_admin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Connects the signals that carry the request id into tasks (see the module).
import mi_admin.celery_signals  # noqa: E402, F401
from mi_admin.liveness.bootstep import LivenessWatchdog  # noqa: E402

# Every worker pings itself through the queue and watches for missed health sweeps, from a
# thread of its own: the check must not depend on beat (mi_admin/liveness/watchdog.py).
app.steps["worker"].add(LivenessWatchdog)
