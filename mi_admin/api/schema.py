"""How the OpenAPI document describes our authentication (drf-spectacular extensions,
registered by importing this module in ApiConfig.ready)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class OktaBearerScheme(OpenApiAuthenticationExtension):  # type: ignore[misc]
    target_class = "mi_admin.api.authentication.OktaBearerAuthentication"
    name = "okta"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An Okta access token (scopes mi.read to read, mi.write to change).",
        }


class SessionScheme(OpenApiAuthenticationExtension):  # type: ignore[misc]
    target_class = "mi_admin.api.authentication.CsrfSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "mi_admin_sessionid",
            "description": "The browser session; unsafe methods need the X-CSRFToken header.",
        }
