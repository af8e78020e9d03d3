"""A Celery worker bootstep that runs :func:`mi_admin.liveness.watchdog.watch` in a daemon
thread while the worker runs. Added to every worker by ``mi_admin.celery``.

Imports nothing of Django at module level (``mi_admin.celery`` imports this before Django
is set up); the thread starts once the worker's pool has.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import bootsteps


class LivenessWatchdog(bootsteps.StartStopStep):
    requires = ("celery.worker.components:Pool",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, parent: Any) -> None:
        from mi_admin.liveness.watchdog import watch

        self._stopping.clear()
        self._thread = threading.Thread(
            target=watch, args=(self._stopping,), name="mi-liveness-watchdog", daemon=True
        )
        self._thread.start()

    def stop(self, parent: Any) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
