"""One FilterSet for the fleet's incidents: instance, cause, state and time."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from health.choices import IncidentCause, IncidentState, IncidentStateFilter
from health.models import Incident
from mi_admin.ui.times import DisplayZoneDateTimeFilter


class IncidentFilterSet(django_filters.FilterSet):
    instance = django_filters.CharFilter(method="by_instance", label="Instance")
    cause = django_filters.ChoiceFilter(
        field_name="cause", choices=IncidentCause.choices, empty_label="All", label="Cause"
    )
    state = django_filters.ChoiceFilter(
        method="by_state", choices=IncidentStateFilter.choices, empty_label="All", label="State"
    )
    since = DisplayZoneDateTimeFilter(
        field_name="opened_at", lookup_expr="gte", label="Opened since"
    )
    until = DisplayZoneDateTimeFilter(
        field_name="opened_at", lookup_expr="lt", label="Opened before"
    )

    class Meta:
        model = Incident
        fields = ["instance", "cause", "state", "since", "until"]

    def by_instance(
        self, queryset: QuerySet[Incident], name: str, value: str
    ) -> QuerySet[Incident]:
        value = value.strip()
        return queryset.filter(
            Q(instance__slug__icontains=value) | Q(instance__customer__name__icontains=value)
        )

    def by_state(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        if value == IncidentStateFilter.RESOLVED:
            return queryset.filter(state=IncidentState.RESOLVED)
        queryset = queryset.filter(state=IncidentState.OPEN)
        if value == IncidentStateFilter.ACKNOWLEDGED:
            return queryset.filter(acknowledged_at__isnull=False)
        if value == IncidentStateFilter.UNACKNOWLEDGED:
            return queryset.filter(acknowledged_at__isnull=True)
        return queryset
