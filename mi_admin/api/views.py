"""The base of every API view, and the schema and docs pages.

An endpoint is an :class:`ApiView` (or a DRF generic view mixed with it) that declares
``rules`` (HTTP method → ``Perm`` / ``Rule``). The middleware lets API views through
(``Rule.API``) because a bearer token is only read here; :class:`RolePermission` then applies
the declared rule from the one role → permission table.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mi_admin.accounts.rules import RULE_ATTR, Rule
from mi_admin.api.permissions import ApiRule


class ApiViewMixin:
    """Marks a DRF view as an API view: the authorization middleware defers to its rules."""

    rules: ClassVar[dict[str, ApiRule]] = {}

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        view = super().as_view(**initkwargs)  # type: ignore[misc]
        setattr(view, RULE_ATTR, Rule.API)
        # DRF answers the anonymous itself (401, problem+json), not a login redirect.
        view.login_required = False
        return view

    def handle_exception(self, exc: Exception) -> Response:
        response: Response = super().handle_exception(exc)  # type: ignore[misc]
        # Errors are problem+json whatever the view renders otherwise (YAML, HTML).
        request = self.request  # type: ignore[attr-defined]
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = "application/json"
        return response


class ApiView(ApiViewMixin, APIView):
    pass


class SchemaView(ApiViewMixin, SpectacularAPIView):
    """The OpenAPI 3 document, for anyone with a role (tokens with the read scope)."""

    rules = {"GET": Rule.ANY_ROLE}


class DocsView(ApiViewMixin, SpectacularSwaggerSplitView):
    """Swagger UI from vendored assets; its script is served apart (no inline script) and
    its page has no inline style (templates/api/swagger_ui.html)."""

    rules = {"GET": Rule.ANY_ROLE}
    template_name = "api/swagger_ui.html"


def validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The request body checked by ``serializer_class`` (a 400 problem when it is not valid)."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    data: dict[str, Any] = serializer.validated_data
    return data
