"""Errors of the GCP adapter, and the translation of google-api-core / HTTP errors into them.

``GcpTransientError`` means "try again later" (408, 429, 5xx but 501/505, timeouts,
connection failures, and the rate-limit / not-ready reasons below whatever the status);
``GcpPermanentError`` means retrying the same call cannot help (400, 401, 403, 404, 409,
412, 501, an answer that cannot be parsed...). Callers branch on the class, never on
Google's types.

Reasons come in two spellings: an API error's ``reason`` is lowerCamel
(``rateLimitExceeded``), a failed operation's error ``code`` is UPPER_SNAKE
(``RATE_LIMIT_EXCEEDED``). Both are compared in one normal form.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json

import httplib2
import requests
import urllib3.exceptions
from google.api_core import exceptions as core_exceptions
from google.auth import exceptions as auth_exceptions
from google.protobuf import json_format
from googleapiclient import errors as api_client_errors


def normal_reason(reason: str) -> str:
    """``RATE_LIMIT_EXCEEDED`` and ``rateLimitExceeded`` → ``ratelimitexceeded``."""
    return reason.replace("_", "").lower()


# Reasons that mean "not now" whatever the status (Compute answers throttling with 403 and
# a transitioning resource with 400): rate limits and quota throttling, a resource still
# changing state, a zone momentarily out of capacity.
TRANSIENT_REASONS = frozenset(
    normal_reason(r)
    for r in (
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "quotaExceeded",
        "RESOURCE_OPERATION_RATE_EXCEEDED",
        "resourceNotReady",
        "ZONE_RESOURCE_POOL_EXHAUSTED",
        "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
        # Cloud SQL runs one operation per instance at a time (409 while another runs).
        "operationInProgress",
    )
)
# Server errors that retrying cannot fix: the method or the HTTP version is not supported.
PERMANENT_SERVER_ERRORS = frozenset({501, 505})


class GcpError(Exception):
    """Base of every error the adapter raises."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason

    @property
    def transient(self) -> bool:
        return isinstance(self, GcpTransientError)


class GcpTransientError(GcpError):
    """Worth retrying later: throttling, server errors, timeouts, network failures."""


class GcpTimeout(GcpTransientError):
    """A request or an operation did not finish in time (it may still finish).

    For an operation, ``operation`` and ``zone`` name it so a later attempt can
    ``operation_wait`` on it instead of starting the change again.
    """

    def __init__(self, message: str, *, operation: str = "", zone: str | None = None) -> None:
        super().__init__(message)
        self.operation = operation
        self.zone = zone


class GcpPermanentError(GcpError):
    """Retrying the same call will fail the same way."""


class GcpNotFound(GcpPermanentError):
    """The resource does not exist (404)."""


class GcpConflict(GcpPermanentError):
    """A precondition failed: stale fingerprint or etag (412, 409), or already exists."""


class GcpPermissionDenied(GcpPermanentError):
    """Missing permission, or bad credentials (401, 403)."""


class GcpBadResponse(GcpPermanentError):
    """GCP answered something the client could not parse (not JSON, not UTF-8, a number out
    of range, a field of the wrong type). Asking again gets the same answer."""


def is_transient(status: int | None, reason: str = "") -> bool:
    if status in PERMANENT_SERVER_ERRORS:
        return False
    if status is not None and (status in (408, 429) or status >= 500):
        return True
    return normal_reason(reason) in TRANSIENT_REASONS


def error_for_status(status: int | None, message: str, reason: str = "") -> GcpError:
    """The adapter error for an HTTP status, as an API answer or a failed operation gives it."""
    cls: type[GcpError]
    if is_transient(status, reason):
        cls = GcpTransientError
    elif status is None:
        cls = GcpPermanentError
    elif status == 404:
        cls = GcpNotFound
    elif status in (409, 412):
        cls = GcpConflict
    elif status in (401, 403):
        cls = GcpPermissionDenied
    else:
        cls = GcpPermanentError
    text = f"{status} {reason}: {message}" if reason else f"{status}: {message}"
    return cls(text, status=status, reason=reason)


def _reason(exc: core_exceptions.GoogleAPICallError) -> str:
    if exc.reason:
        return str(exc.reason)
    for item in exc.errors:
        if isinstance(item, dict) and item.get("reason"):
            return str(item["reason"])
    return ""


def _api_client_error(exc: api_client_errors.HttpError) -> GcpError:
    """google-api-python-client's HttpError (the Cloud SQL Admin client): status, and the
    message and reason from Google's JSON error body when there is one."""
    status = int(exc.resp.status) if exc.resp is not None and exc.resp.status else None
    message, reason = str(getattr(exc, "reason", "") or exc), ""
    try:
        body = json.loads(exc.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, AttributeError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or message)
        items = error.get("errors")
        if isinstance(items, list) and items and isinstance(items[0], dict):
            reason = str(items[0].get("reason", ""))
    return error_for_status(status, message, reason)


def translate(exc: BaseException) -> GcpError | None:
    """The adapter error for ``exc``, or None when it is not a GCP or transport error."""
    if isinstance(exc, GcpError):
        return exc
    if isinstance(exc, api_client_errors.HttpError):
        return _api_client_error(exc)
    if isinstance(exc, core_exceptions.RetryError):
        return GcpTransientError(f"retries exhausted: {exc.message}")
    if isinstance(exc, core_exceptions.GoogleAPICallError):
        status = exc.code if isinstance(exc.code, int) else None
        return error_for_status(status, exc.message or str(exc), _reason(exc))
    if isinstance(exc, json_format.Error | UnicodeDecodeError | json.JSONDecodeError):
        return GcpBadResponse(f"GCP's answer could not be read: {exc}")
    if isinstance(exc, concurrent.futures.TimeoutError | TimeoutError | requests.Timeout):
        return GcpTimeout(f"timed out: {exc}")
    if isinstance(
        exc,
        requests.RequestException
        | urllib3.exceptions.HTTPError
        | httplib2.HttpLib2Error
        | http.client.HTTPException
        | ConnectionError,
    ):
        return GcpTransientError(f"connection error: {exc}")
    if isinstance(exc, auth_exceptions.TransportError):
        return GcpTransientError(f"auth transport error: {exc}")
    if isinstance(exc, auth_exceptions.RefreshError | auth_exceptions.DefaultCredentialsError):
        return GcpPermissionDenied(f"credentials: {exc}")
    return None
