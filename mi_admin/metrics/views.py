"""``GET /metrics``: the Prometheus exposition, for a scraper holding the bearer token or
sending from an allowed network.

The view is ``@public`` (no Okta login: a scraper has no session) but makes its own check
first: ``Authorization: Bearer <METRICS_TOKEN>`` or a client address inside
``METRICS_ALLOWED_NETWORKS``. Anything else gets 401 (a token is configured: say how to
authenticate) or 403 (no token configured). A signed-in person's session is no pass either.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from mi_admin.accounts.rules import public
from mi_admin.http import client_ip
from mi_admin.metrics import queues  # noqa: F401 (registers the queue depths)
from mi_admin.metrics.registry import ScrapeTimeCollector

logger = logging.getLogger(__name__)


def _token_ok(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    )


def _address_ok(request: HttpRequest) -> bool:
    address = client_ip(request)
    if not address or not settings.METRICS_ALLOWED_NETWORKS:
        return False
    ip = ipaddress.ip_address(address)
    return any(
        ip in ipaddress.ip_network(network, strict=False)
        for network in settings.METRICS_ALLOWED_NETWORKS
    )


def scrape_refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the scraper may read the metrics; else the 401 / 403 to send."""
    if _token_ok(request) or _address_ok(request):
        return None
    logger.warning("metrics: refused a scrape from %s", client_ip(request))
    if settings.METRICS_TOKEN:
        response = HttpResponse("A bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse("Metrics are not open to this client.\n", status=403)


class _ThisProcess(Collector):
    """The default registry's series (this process's events) inside a per-scrape registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def exposition() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeTimeCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every process's event series (gunicorn workers, Celery workers) from the shared
        # directory, instead of only the worker that happens to answer this scrape.
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    return generate_latest(registry)


@public
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    refusal = scrape_refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
