"""The audit trail over the API: the page's filters (plus ``object``), cursor pages, and the
CSV export streamed with the page's columns."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, renderers
from rest_framework.request import Request

from mi_admin.accounts.roles import Perm
from mi_admin.api.pagination import ApiCursorPagination
from mi_admin.api.views import ApiViewMixin
from mi_admin.audit.models import AuditEvent
from mi_admin.audit.selectors import audit_event_list
from mi_admin.audit_pages import exports
from mi_admin.audit_pages.api.serializers import AuditEventSerializer
from mi_admin.audit_pages.filtersets import AuditEventFilterSet
from mi_admin.ui.lists import export_response


class ApiAuditEventFilterSet(AuditEventFilterSet):
    """The page's filters, and ``object``: ``<object_type>`` or ``<object_type>:<id>``
    (``access.accessgrant:12``)."""

    object = django_filters.CharFilter(method="by_object", label="Object (type or type:id)")

    class Meta(AuditEventFilterSet.Meta):
        fields = [*AuditEventFilterSet.Meta.fields, "object"]

    def by_object(
        self, queryset: QuerySet[AuditEvent], name: str, value: str
    ) -> QuerySet[AuditEvent]:
        object_type, _, object_id = value.partition(":")
        queryset = queryset.filter(object_type__iexact=object_type.strip())
        return queryset.filter(object_id=object_id.strip()) if object_id else queryset


class Newest(ApiCursorPagination):
    ordering = "-id"


class CsvRenderer(renderers.BaseRenderer):
    """Lets ``Accept: text/csv`` through content negotiation; the view streams the body."""

    media_type = "text/csv"
    format = "csv"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context=None):  # type: ignore[no-untyped-def]
        return data


class AuditEventList(ApiViewMixin, generics.ListAPIView):
    """The audit trail, newest first, filtered as on the audit trail page."""

    rules = {"GET": Perm.VIEW_AUDIT}
    serializer_class = AuditEventSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ApiAuditEventFilterSet
    pagination_class = Newest

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return audit_event_list()


class AuditEventExport(ApiViewMixin, generics.GenericAPIView):
    """The filtered trail as CSV (streamed; the audit page's export columns), oldest rows
    last as on the page."""

    rules = {"GET": Perm.VIEW_AUDIT}
    filter_backends = [DjangoFilterBackend]
    filterset_class = ApiAuditEventFilterSet
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]
    pagination_class = None

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return audit_event_list()

    @extend_schema(
        filters=True,  # not a list view: spectacular would leave the filters out
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="CSV with the columns " + ", ".join(exports.COLUMNS) + ".",
            )
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        filterset = ApiAuditEventFilterSet(request.query_params, queryset=self.get_queryset())
        if not filterset.is_valid():
            raise exceptions.ValidationError(filterset.errors)
        return export_response(
            exports.csv_rows(filterset.qs), name="audit", extension="csv", content_type="text/csv"
        )
