"""``/healthz`` and ``/readyz`` for the load balancer and the orchestrator.

A load balancer checks the backend address over plain HTTP, with its own Host header (the
backend's IP) and sometimes with HEAD. :class:`ProbeMiddleware` therefore answers both paths
first, before the HTTPS redirect and the ALLOWED_HOSTS check, neither of which such a check
could pass. ``/healthz`` is liveness (the process answers; nothing else is touched, so a
database outage does not make the balancer kill every web process); ``/readyz`` is
readiness: the database answers ``SELECT 1`` and the Celery broker accepts a connection,
with short timeouts, 503 naming what failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection

from mi_admin.accounts.rules import public

logger = logging.getLogger(__name__)


def _answer(request: HttpRequest, body: dict[str, str], status: int = 200) -> HttpResponse:
    response = JsonResponse(body, status=status)
    if request.method == "HEAD":
        # gunicorn sends whatever body the view returns, even to HEAD.
        response.content = b""
    return response


@public
@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: this process serves requests. Touches nothing else."""
    return _answer(request, {"status": "ok"})


def _database_ok() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("readyz: database check failed: %s", exc)
        return f"error: {type(exc).__name__}"
    return "ok"


def _broker_ok() -> str:
    timeout = settings.READYZ_TIMEOUT
    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {})
    # redis-py's own connect and read timeouts; kombu's connect_timeout covers the others.
    options.setdefault("socket_connect_timeout", timeout)
    options.setdefault("socket_timeout", timeout)
    try:
        with Connection(
            settings.CELERY_BROKER_URL, connect_timeout=timeout, transport_options=options
        ) as broker:
            broker.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=max(1, int(timeout))
            )
    except Exception as exc:  # every transport raises its own errors
        logger.warning("readyz: broker check failed: %s", exc)
        return f"error: {type(exc).__name__}"
    return "ok"


@public
@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database and the broker answer. 503 names the one that does not."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    ready = all(value == "ok" for value in checks.values())
    return _answer(
        request, {"status": "ok" if ready else "unavailable", **checks}, 200 if ready else 503
    )


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {"/healthz": healthz, "/readyz": readyz}


class ProbeMiddleware:
    """Answers the probes before any middleware that would redirect or refuse the Host."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
