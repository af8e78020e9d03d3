"""How the OpenAPI document describes our authentication (drf-spectacular extensions,
registered by importing this module in ApiConfig.ready)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class OktaBearerScheme(OpenApiAuthenticationExtension):
    target_class = "mi_admin.api.authentication.OktaBearerAuthentication"
    name = "okta"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An Okta access token (scopes mi.read to read, mi.write to change).",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "mi_admin.api.authentication.CsrfSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "mi_admin_sessionid",
            "description": "The browser session; unsafe methods need the X-CSRFToken header.",
        }


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An error (RFC 9457).",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {}},
            "description": "Field → messages, for a request that did not validate.",
        },
    },
    "required": ["type", "title", "status", "detail"],
}

_ERRORS = {
    "400": "The request did not validate, or the service refused it (detail says why).",
    "401": "No valid bearer token or session.",
    "403": "The caller's role or token scopes do not allow this.",
    "404": "No such object.",
    "405": "The endpoint does not answer this method.",
    "409": "A conflicting operation is under way, or the Idempotency-Key is in use.",
    "422": "The Idempotency-Key was used for another request.",
    "429": "Too many requests; Retry-After says when to retry.",
}
_WRITE_ONLY = {"409", "422"}


def add_problem_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation documents its errors as
    ``application/problem+json`` (the Problem component)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    reference = {"$ref": "#/components/schemas/Problem"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            for status, description in _ERRORS.items():
                if status in _WRITE_ONLY and method == "get":
                    continue
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/problem+json": {"schema": reference}},
                    },
                )
    return result


def text_parameters_without_nul(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: text query parameters say they refuse NUL (Django's
    form fields do, with a 400), so the schema describes what the API accepts."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and schema.get("type") == "string":
                    schema.setdefault("pattern", "^[^\\u0000]*$")
    return result
