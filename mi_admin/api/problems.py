"""Every API error as ``application/problem+json`` (RFC 9457): ``type``, ``title``,
``status``, ``detail``, and ``errors`` (field → messages) for a request that did not
validate. DRF's errors come through :func:`exception_handler`; Django's own 404 / 500
under ``/api/`` (an unknown URL) through :func:`not_found` / :func:`server_error`."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/"
TYPE_PREFIX = "urn:mi-admin:problem:"


def problem(
    status: int, detail: str, *, code: str = "", errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"{TYPE_PREFIX}{code}" if code else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    status: int,
    detail: str,
    *,
    code: str = "",
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        problem(status, detail, code=code, errors=errors),
        status=status,
        headers=headers,
        content_type=PROBLEM_JSON,
    )


def _flatten(detail: Any) -> str:
    if isinstance(detail, list):
        return " ".join(_flatten(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_flatten(v)}" for k, v in detail.items())
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 (server_error below for /api/)
    code = ""
    errors: dict[str, Any] | None = None
    if isinstance(exc, exceptions.ValidationError):
        code = "validation"
        detail = exc.detail
        if isinstance(detail, dict):
            errors = {str(k): v if isinstance(v, list) else [v] for k, v in detail.items()}
            text = "The request did not validate: " + _flatten(detail)
        else:
            errors = {"non_field_errors": detail if isinstance(detail, list) else [detail]}
            text = _flatten(detail)
    elif isinstance(exc, exceptions.APIException):
        code = exc.default_code
        text = _flatten(exc.detail)
    else:  # Http404, PermissionDenied of Django, turned into DRF's by its handler
        text = _flatten(response.data.get("detail", "")) if response.data else ""
        code = "not_found" if response.status_code == 404 else "permission_denied"
    response.data = problem(response.status_code, text, code=code, errors=errors)
    response.content_type = PROBLEM_JSON
    return response


def _django_problem(status: int, detail: str, code: str) -> HttpResponse:
    return JsonResponse(
        problem(status, detail, code=code), status=status, content_type=PROBLEM_JSON
    )


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return _django_problem(404, f"No API endpoint at {request.path}.", "not_found")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return _django_problem(500, "The server failed; the error is logged.", "server_error")
    return defaults.server_error(request)
