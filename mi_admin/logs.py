"""What every log line carries, in the web, the worker and beat: the request id (the audit
context, :mod:`mi_admin.audit.context`, which :mod:`mi_admin.celery_signals` restores in
tasks), the signed-in person, and in tasks the task's name and id and the operation it runs.

``LOG_FORMAT=json`` (settings) renders each record as one JSON object per line with
python-json-logger; ``plain`` renders the same fields as text. The fields are put on the
record by :class:`LogContextFilter`, attached to the handler, so records of every logger
(Django's, Celery's, ours) carry them.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.json import JsonFormatter

from mi_admin.audit.context import current

FIELDS = ("request_id", "user", "task_name", "task_id", "operation_id")


@dataclass(frozen=True)
class LogContext:
    user: str = ""
    task_name: str = ""
    task_id: str = ""
    operation_id: str = ""


_log_context: contextvars.ContextVar[LogContext] = contextvars.ContextVar(
    "mi_log_context",
    default=LogContext(),  # noqa: B039 (frozen, never mutated)
)


@contextmanager
def log_context(**fields: str) -> Iterator[LogContext]:
    """Adds fields (user, task_name, task_id, operation_id) to every line logged inside."""
    token = _log_context.set(replace(_log_context.get(), **fields))
    try:
        yield _log_context.get()
    finally:
        _log_context.reset(token)


class LogContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _log_context.get()
        record.request_id = current().request_id or _access_line_request_id(record)
        record.user = context.user
        record.task_name = context.task_name
        record.task_id = context.task_id
        record.operation_id = context.operation_id
        return True


def _access_line_request_id(record: logging.LogRecord) -> str:
    """gunicorn logs its access line after the request's context ended; its atoms hold the
    X-Request-ID response header."""
    if record.name == "gunicorn.access" and isinstance(record.args, dict):
        value = record.args.get("{x-request-id}o", "")
        return "" if value in ("", "-") else str(value)
    return ""


def json_formatter() -> logging.Formatter:
    """One JSON object per line: timestamp (ISO 8601, UTC), level, logger, message, then the
    context fields (empty strings when absent, so every line has the same keys)."""
    return JsonFormatter(
        " ".join(f"%({name})s" for name in ("levelname", "name", "message", *FIELDS)),
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="timestamp",
    )


class PlainFormatter(logging.Formatter):
    """Text lines for a developer's terminal: the context fields that are set, in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{name}={value}" for name in FIELDS if (value := getattr(record, name, ""))
        )
        return f"{line} [{context}]" if context else line


class LogUserMiddleware:
    """Puts the signed-in person's username on the request's log lines (after
    AuthenticationMiddleware; lines logged before it name no one)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        name = user.get_username() if user is not None and user.is_authenticated else ""
        with log_context(user=name):
            return self.get_response(request)


# gunicorn's access line with the request id our middleware echoes in the response.
GUNICORN_ACCESS_LOG_FORMAT = (
    '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'
)


def gunicorn_logconfig_dict(log_format: str = "json") -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its error and access loggers write through the same
    formatter and context filter as the application (the entrypoint's gunicorn config sets
    ``logconfig_dict = gunicorn_logconfig_dict(os.environ.get("LOG_FORMAT", "json"))`` and
    ``access_log_format = GUNICORN_ACCESS_LOG_FORMAT``)."""
    formatter = (
        {"()": "mi_admin.logs.json_formatter"}
        if log_format == "json"
        else {"()": "mi_admin.logs.PlainFormatter"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "mi",
        "filters": ["context"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "mi_admin.logs.LogContextFilter"}},
        "formatters": {"mi": formatter},
        "handlers": {"mi_console": handler},
        "root": {"level": "INFO", "handlers": ["mi_console"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["mi_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["mi_console"], "propagate": False},
        },
    }
