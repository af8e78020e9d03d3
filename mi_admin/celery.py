"""The Celery app. Settings come from Django's (``CELERY_*``); tasks live in each app."""

import logging
import os

from celery import Celery

logger = logging.getLogger(__name__)

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


def publisher_warm_up() -> None:
    """Make a web process's first task publish as quick as the later ones.

    Without it the first "Sync now" after start paid for importing every app's tasks module
    (``mi_admin.queue`` resolves tasks by name), finalizing the task registry, loading the
    result backend class (an entry-point scan), and the first broker connection and queue
    declaration. Runs once at start, in the background; a broker that is down only means
    the first publish connects itself.
    """
    try:
        app.loader.import_default_modules()
        app.finalize(auto=True)
        _ = app.backend
        queue = app.amqp.queues[app.conf.task_default_queue]
        with app.producer_or_acquire() as producer:
            producer.maybe_declare(queue)
    except Exception as exc:  # any broker failure: the first publish then connects itself
        logger.info("celery warm-up skipped, broker not reachable: %s", exc)
