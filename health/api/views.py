"""The health API: thin like the pages (authorize by the declared rule, one selector call,
serialize)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from health.api.serializers import IncidentSerializer, UptimeSerializer
from health.filtersets import IncidentFilterSet
from health.models import Incident
from health.selectors import uptime_for_instances
from health.selectors.incidents import incident_list
from instances import selectors as instance_selectors
from mi_admin.accounts.roles import Perm
from mi_admin.api.pagination import ApiCursorPagination
from mi_admin.api.views import ApiView, ApiViewMixin


class NewestOpened(ApiCursorPagination):
    ordering = "-opened_at"  # nearly unique; DRF breaks ties by offset


class IncidentList(ApiViewMixin, generics.ListAPIView):
    """Incidents across the fleet, newest first, with the incidents page's FilterSet
    (instance, cause, state, since, until)."""

    rules = {"GET": Perm.VIEW_FLEET}
    serializer_class = IncidentSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = IncidentFilterSet
    pagination_class = NewestOpened

    def get_queryset(self) -> QuerySet[Incident]:
        return incident_list()


class InstanceUptime(ApiView):
    """An instance's uptime over 24 h, 7 d and 30 d (maintenance excluded; suspended time
    has no samples), and how many days the 30-day figure rests on."""

    rules = {"GET": Perm.VIEW_FLEET}

    @extend_schema(responses=UptimeSerializer)
    def get(self, request: Request, slug: str) -> Response:
        instance = instance_selectors.instance_get(slug=slug)
        if instance is None:
            raise Http404(f"No instance {slug}.")
        uptime = uptime_for_instances([instance.pk])[instance.pk]
        figures = uptime.as_dict()
        data = {
            "instance": instance.slug,
            "uptime_24h": figures["24h"],
            "uptime_7d": figures["7d"],
            "uptime_30d": figures["30d"],
            "days_30d": uptime.month_days,
            "coverage_30d": uptime.month_coverage,
        }
        return Response(UptimeSerializer(data).data)
