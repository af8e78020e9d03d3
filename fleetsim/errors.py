"""Errors in the JSON shape Compute Engine answers with, so google-api-core parses them."""

from __future__ import annotations

from typing import Any

REASONS: dict[int, str] = {
    400: "invalid",
    401: "required",
    403: "forbidden",
    404: "notFound",
    409: "alreadyExists",
    412: "conditionNotMet",
    429: "rateLimitExceeded",
    500: "backendError",
    501: "notImplemented",
    502: "badGateway",
    503: "backendError",
    504: "deadlineExceeded",
}

MESSAGES: dict[int, str] = {
    400: "Invalid value.",
    403: "Required permission is missing.",
    404: "The resource was not found",
    409: "The resource already exists",
    412: "Precondition failed.",
    429: "Quota exceeded for quota metric 'Queries' of service 'compute.googleapis.com'.",
    500: "Internal error. Please try again or contact Google Support.",
    501: "Not implemented.",
    502: "Bad gateway.",
    503: "The service is currently unavailable.",
    504: "Deadline exceeded.",
}

# Compute puts an upper-case code (not a reason) in a failed operation's error items.
OPERATION_CODES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_NOT_FOUND",
    409: "RESOURCE_ALREADY_EXISTS",
    412: "CONDITION_NOT_MET",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
}

HTTP_PHRASES: dict[int, str] = {
    400: "BAD REQUEST",
    403: "FORBIDDEN",
    404: "NOT FOUND",
    409: "CONFLICT",
    412: "PRECONDITION FAILED",
    429: "TOO MANY REQUESTS",
    500: "INTERNAL SERVER ERROR",
    501: "NOT IMPLEMENTED",
    502: "BAD GATEWAY",
    503: "SERVICE UNAVAILABLE",
}


class ApiError(Exception):
    """An error answer of the simulated API; routes raise it, the wrapper renders it."""

    def __init__(self, status: int, message: str = "", reason: str = "") -> None:
        self.status = status
        self.message = message or MESSAGES.get(status, "Error.")
        self.reason = reason or REASONS.get(status, "error")
        super().__init__(f"{status} {self.reason}: {self.message}")

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
            }
        }


def not_found(resource_path: str) -> ApiError:
    return ApiError(404, f"The resource '{resource_path}' was not found", "notFound")
