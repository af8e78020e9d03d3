"""Response headers every page gets: a Content-Security-Policy, and ``no-store`` for anything
served to a signed-in person (pages, partials, CSV/JSON exports).

The policy allows only our own origin: scripts and styles come from ``static/`` (htmx and
Pico vendored), templates carry no inline script, style or event handler, and htmx is told
not to inject its indicator ``<style>`` (``htmx-config`` meta tag in base.html). Pico draws
its icons with ``data:`` SVGs, hence ``img-src data:``. Forms may post to us, and to Okta
only through our redirects (``form-action`` also governs where a form's redirects go, so the
provider's origin is listed).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

CSP_HEADER = "Content-Security-Policy"


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy() -> str:
    provider = sorted(
        {
            origin
            for origin in (
                _origin(settings.OIDC_OP_AUTHORIZATION_ENDPOINT),
                _origin(settings.OIDC_OP_LOGOUT_ENDPOINT),
            )
            if origin
        }
    )
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", *provider],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class SecurityHeadersMiddleware:
    """Adds the CSP to every response and ``Cache-Control: no-store`` when signed in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if CSP_HEADER not in response:
            response[CSP_HEADER] = content_security_policy()
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            # Shared machines and proxies must not keep fleet data or exports.
            add_never_cache_headers(response)
        return response
