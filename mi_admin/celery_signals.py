"""The request id travels with every Celery task, so audit rows and log lines a worker writes
link back to the web request (or the task) that queued the work.

Publishing a task copies the current request id into the message headers; the worker puts
it back into the audit context (:mod:`mi_admin.audit.context`) before the task runs and
clears it afterwards; it also puts the task's name and id on the task's log lines
(:mod:`mi_admin.logs`). It works for every task without changing any call site, including a
task queued by another task (its publish happens inside the restored context).
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun

from mi_admin.audit.context import current, request_context
from mi_admin.logs import log_context

HEADER = "mi_request_id"

# Task id → the entered context to leave when that task ends (one entry per running task).
_entered: dict[str, ExitStack] = {}
_entered_lock = threading.Lock()


@before_task_publish.connect(weak=False)
def request_id_to_headers(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = current().request_id
    if request_id and headers is not None:
        headers.setdefault(HEADER, request_id)


def _header(task: Any) -> str:
    request = getattr(task, "request", None)
    value = getattr(request, HEADER, None)  # protocol 2: custom headers become attributes
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(HEADER)
    return str(value or "")


@task_prerun.connect(weak=False)
def request_id_from_headers(task_id: str = "", task: Any = None, **_: Any) -> None:
    request_id = _header(task)
    stack = ExitStack()
    stack.enter_context(log_context(task_name=str(getattr(task, "name", "")), task_id=task_id))
    # No id: a beat task, or an eager run that already holds the caller's context.
    if request_id:
        stack.enter_context(request_context(request_id=request_id))
    with _entered_lock:
        _entered[task_id] = stack


@task_postrun.connect(weak=False)
def request_id_cleared(task_id: str = "", **_: Any) -> None:
    with _entered_lock:
        stack = _entered.pop(task_id, None)
    if stack is not None:
        # The worker thread goes back to "no request" for its next task.
        stack.close()
