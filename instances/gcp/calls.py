"""How the adapter calls Compute: read retries, error translation, operation waiting.

Google's generated clients retry some reads on their own (503 for up to 600 s); we pass
``retry=None`` on every call so the policy below is the only one and stays bounded.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import NoReturn, TypeVar

from django.conf import settings
from google.cloud.compute_v1.types import compute

from instances.gcp.clients import compute_clients
from instances.gcp.errors import GcpTimeout, error_for_status, translate
from instances.gcp.models import Operation, operation_from_proto

logger = logging.getLogger(__name__)

T = TypeVar("T")

_rng = random.SystemRandom()
# Backstop between two operations.wait answers that come back before DONE.
_WAIT_PAUSE = 0.2


def setting_float(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def request_timeout() -> float:
    """Per-HTTP-request timeout in seconds (``GCP_REQUEST_TIMEOUT``, default 60)."""
    return setting_float("GCP_REQUEST_TIMEOUT", 60.0)


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with jitter: base * 2**attempt, scaled by a factor in [0.5, 1.5)."""
    base = setting_float("GCP_RETRY_BASE_DELAY", 0.5)
    return base * (2**attempt) * _rng.uniform(0.5, 1.5)


def reraise(exc: BaseException, what: str) -> NoReturn:
    error = translate(exc)
    if error is None:
        raise exc
    logger.info("gcp %s failed: %s", what, error)
    raise error from exc


def read(what: str, call: Callable[[], T]) -> T:
    """Run a read, retrying transient errors ``GCP_READ_RETRIES`` times with backoff."""
    retries = int(getattr(settings, "GCP_READ_RETRIES", 3))
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            error = translate(exc)
            if error is None or not error.transient or attempt >= retries:
                reraise(exc, what)
            delay = backoff_delay(attempt)
            attempt += 1
            logger.info(
                "gcp %s failed transiently (%s); retry %d/%d in %.2f s",
                what,
                error,
                attempt,
                retries,
                delay,
            )
            time.sleep(delay)


def mutate(what: str, project: str, call: Callable[[], compute.Operation]) -> Operation:
    """Start a mutation (no retry: the calling task retries the step) and wait for it."""
    try:
        op = call()
    except Exception as exc:
        reraise(exc, what)
    logger.info("gcp %s: operation %s started", what, op.name)
    zone = op.zone.rstrip("/").rsplit("/", 1)[-1] if op.zone else None
    return wait_for_operation(project=project, zone=zone, name=op.name, timeout=None)


def _raise_if_failed(op: compute.Operation) -> None:
    if not op.http_error_status_code and not op.error.errors:
        return
    details = "; ".join(e.message for e in op.error.errors if e.message)
    reason = op.error.errors[0].code if op.error.errors else ""
    message = details or op.http_error_message or "operation failed"
    status = op.http_error_status_code or None
    raise error_for_status(status, f"operation {op.name} failed: {message}", reason)


def wait_for_operation(
    *, project: str, zone: str | None, name: str, timeout: float | None
) -> Operation:
    """Block until the operation is DONE (``operations.wait`` long-polls server-side).

    Raises GcpTimeout after ``timeout`` seconds (default ``GCP_OPERATION_TIMEOUT``), and the
    operation's own error, translated, if it ends in one.
    """
    limit = timeout if timeout is not None else setting_float("GCP_OPERATION_TIMEOUT", 300.0)

    def _timeout() -> GcpTimeout:
        message = f"operation {name} not done after {limit:g} s"
        return GcpTimeout(message, operation=name, zone=zone)

    deadline = time.monotonic() + limit
    clients = compute_clients()
    retries = int(getattr(settings, "GCP_READ_RETRIES", 3))
    failures = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _timeout()
        per_call = min(remaining, request_timeout())
        try:
            if zone:
                op = clients.zone_operations.wait(
                    project=project, zone=zone, operation=name, retry=None, timeout=per_call
                )
            else:
                op = clients.global_operations.wait(
                    project=project, operation=name, retry=None, timeout=per_call
                )
        except Exception as exc:
            error = translate(exc)
            if isinstance(error, GcpTimeout):
                # The HTTP read timed out while the server long-polled: not a failure
                # unless our own deadline has passed.
                if time.monotonic() >= deadline:
                    raise _timeout() from exc
                continue
            if error is None or not error.transient or failures >= retries:
                reraise(exc, f"wait {name}")
            failures += 1
            time.sleep(min(backoff_delay(failures - 1), max(deadline - time.monotonic(), 0)))
            continue
        if op.status == compute.Operation.Status.DONE:
            _raise_if_failed(op)
            return operation_from_proto(project, op)
        time.sleep(min(_WAIT_PAUSE, max(deadline - time.monotonic(), 0)))
