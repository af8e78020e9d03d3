"""One FilterSet for the audit trail: the HTML list and both exports use it."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from mi_admin.audit.models import AuditEvent
from mi_admin.ui.times import DisplayZoneDateTimeFilter


class AuditEventFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    actor = django_filters.CharFilter(field_name="actor_label", lookup_expr="iexact", label="Actor")
    action = django_filters.CharFilter(field_name="action", lookup_expr="istartswith")
    object_type = django_filters.CharFilter(field_name="object_type", lookup_expr="iexact")
    object_id = django_filters.CharFilter(field_name="object_id")
    since = DisplayZoneDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = DisplayZoneDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["q", "actor", "action", "object_type", "object_id", "since", "until"]

    def search(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        return queryset.filter(
            Q(object_repr__icontains=value)
            | Q(actor_label__icontains=value)
            | Q(action__icontains=value)
            | Q(request_id=value)
        )
