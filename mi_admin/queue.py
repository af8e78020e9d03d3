"""Queue a Celery task by its registered name.

Services create work and tasks run it: ``tasks`` import ``services``, never the other way
(import-linter enforces the layers). A service that must queue its own app's task names it
instead of importing it. ``current_app.tasks[name]`` (not ``send_task``) keeps eager mode
and the task's own options; ``tests/test_task_names.py`` proves every name used exists.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from celery.result import AsyncResult


def task_enqueue(name: str, *args: Any, **options: Any) -> AsyncResult:
    """``apply_async`` of the task registered as ``name``, with ``args`` and Celery options."""
    if name not in current_app.tasks:
        # A web process imports the apps' tasks modules only when asked (a worker does at
        # start): discover them once, then the name resolves.
        current_app.loader.import_default_modules()
    return current_app.tasks[name].apply_async(args=args, **options)
