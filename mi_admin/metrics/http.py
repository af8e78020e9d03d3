"""HTTP request series: a small middleware rather than django-prometheus (not in our package
mirror, and it wraps the database backends, which our settings choose themselves).

The route label is the URL pattern's name (``instances:instance_detail``), never the path,
so one series per view, not per instance slug; unmatched paths share ``<unmatched>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "mi_http_requests",
    "HTTP requests answered, by method, route (URL name) and status code.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "mi_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route (URL name).",
    ["method", "route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Scrapes are not traffic: counting them would make every scrape change the next one.
SKIPPED_ROUTES = frozenset({"metrics:metrics"})
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_of(request: HttpRequest) -> str:
    match = request.resolver_match
    if match is None:
        return "<unmatched>"
    return match.view_name or match.route or "<unnamed>"


class HttpMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        route = route_of(request)
        if route not in SKIPPED_ROUTES:
            # A client's made-up method must not mint a series of its own.
            method = request.method if request.method in KNOWN_METHODS else "OTHER"
            REQUESTS.labels(method, route, str(response.status_code)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)
        return response
