"""Gives every request an id and records its origin for the audit trail.

The id is kept from an incoming ``X-Request-ID`` only when one of our proxies sent the
request (:func:`mi_admin.http.peer_is_trusted_proxy`, the trust that decides the client IP)
and the value is plain (``REQUEST_ID_FORMAT``); anything else gets a fresh id, so a client
cannot choose the id its actions are filed under. The id is echoed in the response.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from mi_admin.audit.context import RequestContext, _current
from mi_admin.http import client_ip, peer_is_trusted_proxy

REQUEST_ID_FORMAT = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_for(request: HttpRequest) -> str:
    """The proxy's id when it may be believed, else a new one (32 hex digits)."""
    incoming = request.headers.get("X-Request-ID", "")
    if REQUEST_ID_FORMAT.fullmatch(incoming) and peer_is_trusted_proxy(request):
        return incoming
    return uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _current.set(
            RequestContext(
                request_id=request_id,
                ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", "")[:512],
            )
        )
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request_id
        return response
