"""One FilterSet for the fleet list: the HTML list, its auto-refresh and the CSV export use it.

It filters the queryset of :func:`instances.selectors.instance_list`, whose ``version``
annotation the version, ``behind``, version SLA and sort filters rely on. Other apps add
filters through :mod:`mi_admin.ui.extensions` (health adds "Health").
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import django_filters
from django import forms
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.forms import BoundField
from django.utils import timezone
from django_filters.constants import EMPTY_VALUES

from instances import versions
from instances.choices import (
    Architecture,
    Drift,
    InstanceKind,
    LifecycleState,
    OperationKind,
    OperationState,
)
from instances.models import Instance, Operation
from mi_admin.ui.extensions import INSTANCE_LIST, page_columns, page_filters

DRIFT_ANY = "any"
DRIFT_NONE = "none"
DRIFT_CHOICES = [
    (DRIFT_ANY, "Any drift"),
    (DRIFT_NONE, "No drift"),
    *((value, label) for value, label in Drift.choices if value),
]


class AnyYesNo(forms.NullBooleanSelect):
    """A yes/no select whose empty choice means "do not filter"."""

    def __init__(self, yes: str, no: str) -> None:
        super().__init__()
        self.choices = [("", "All"), ("true", yes), ("false", no)]


class FleetOrderingFilter(django_filters.OrderingFilter):
    """Sorts on the chosen column with rows lacking a value last, then by customer and slug
    so that pages stay stable. Versions sort by number, not as text (5.10 > 5.9), releases
    and unregistered builds alike (:mod:`instances.versions`). ``expressions``: sort keys
    ordered by an SQL expression rather than a field, built when sorting (the version SLA's
    deadline, and the columns other apps register with their ``order_by``)."""

    tiebreak = ("customer__name", "slug")

    def __init__(
        self, *args: Any, expressions: dict[str, Callable[[], Any]] | None = None, **kwargs: Any
    ) -> None:
        self.expressions = dict(expressions or {})
        super().__init__(*args, **kwargs)

    def _order(self, param: str) -> list[OrderBy]:
        name = self.get_ordering_value(param)
        descending = name.startswith("-")
        name = name.lstrip("-")
        columns: list[Any] = [F(name)]
        if name in self.expressions:
            columns = [self.expressions[name]()]
        elif name == "version":
            columns.insert(0, self.parent.releases.rank(self.parent.fleet_versions))
        if descending:
            return [column.desc(nulls_last=True) for column in columns]
        return [column.asc(nulls_last=True) for column in columns]

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value in EMPTY_VALUES:
            return qs
        ordering = [order for p in value if p not in EMPTY_VALUES for order in self._order(p)]
        return qs.order_by(*ordering, *self.tiebreak)


SORT_FIELDS = (
    ("customer__name", "customer"),
    ("slug", "slug"),
    ("kind", "kind"),
    ("architecture", "architecture"),
    ("state", "state"),
    ("version", "version"),
    ("version_sla", "version_sla"),
    ("last_synced_at", "last_synced_at"),
)
SORT_LABELS = {
    "customer__name": "Customer",
    "last_synced_at": "Last sync",
    "version_sla": "Version SLA (most overdue first)",
}


class InstanceFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    mine = django_filters.BooleanFilter(
        method="by_mine", label="My customers", widget=forms.CheckboxInput
    )
    customer = django_filters.CharFilter(method="by_customer", label="Customer")
    kind = django_filters.ChoiceFilter(choices=InstanceKind.choices, empty_label="All")
    architecture = django_filters.ChoiceFilter(choices=Architecture.choices, empty_label="All")
    # Every state in view at once, without scrolling the list box.
    state = django_filters.MultipleChoiceFilter(
        choices=LifecycleState.choices,
        widget=forms.SelectMultiple(attrs={"size": len(LifecycleState.choices)}),
    )
    version = django_filters.CharFilter(field_name="version", lookup_expr="exact")
    behind = django_filters.BooleanFilter(
        method="by_behind",
        label="Behind latest",
        widget=AnyYesNo("Behind the latest release", "On the latest release"),
    )
    drift = django_filters.ChoiceFilter(method="by_drift", choices=DRIFT_CHOICES, empty_label="All")
    version_sla = django_filters.ChoiceFilter(
        method="by_version_sla",
        choices=versions.SLA_FILTER_CHOICES,
        empty_label="All",
        label="Version SLA",
    )
    # Replaced in __init__ by one that also knows the sorts other apps' columns register.
    sort = FleetOrderingFilter(fields=SORT_FIELDS, label="Sort")

    class Meta:
        model = Instance
        fields = [
            "q",
            "mine",
            "customer",
            "kind",
            "architecture",
            "state",
            "version",
            "behind",
            "drift",
            "version_sla",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extension_names: list[str] = []
        for extension in page_filters(INSTANCE_LIST):
            added = extension.make()
            added.model, added.parent = self.queryset.model, self
            self.filters[extension.name] = added
            self.extension_names.append(extension.name)
        self.filters["sort"] = self._sort_filter()

    def _sort_filter(self) -> FleetOrderingFilter:
        """The sort: the fleet's own keys, then every registered column's ``order_by``, so
        the page, its partial and the export sort alike without importing those apps."""
        registered = [c for c in page_columns(INSTANCE_LIST) if c.sort and c.order_by]
        expressions: dict[str, Callable[[], Any]] = {
            "version_sla": lambda: self.releases.sla_deadline(self.fleet_versions),
            **{column.sort: column.order_by for column in registered if column.order_by},
        }
        sort = FleetOrderingFilter(
            fields=(*SORT_FIELDS, *((column.sort, column.sort) for column in registered)),
            field_labels={**SORT_LABELS, **{column.sort: column.label for column in registered}},
            expressions=expressions,
            empty_label="Customer, then slug",
            label="Sort",
        )
        sort.model, sort.parent = self.queryset.model, self
        return sort

    @cached_property
    def releases(self) -> versions.ReleaseHistory:
        """The release history, read once for the filters, the sort and the page."""
        return versions.ReleaseHistory.load()

    @cached_property
    def fleet_versions(self) -> set[str]:
        """The fleet's distinct versions, read once for the behind and version SLA filters."""
        return versions.fleet_versions()

    @property
    def extension_fields(self) -> list[BoundField]:
        """The form fields of filters other apps added, for the filter bar."""
        return [self.form[name] for name in self.extension_names]

    def search(self, queryset: QuerySet[Instance], name: str, value: str) -> QuerySet[Instance]:
        return queryset.filter(
            Q(slug__icontains=value)
            | Q(customer__name__icontains=value)
            | Q(customer__slug__icontains=value)
            | Q(url__icontains=value)
            | Q(gcp_project__icontains=value)
        )

    def by_mine(
        self, queryset: QuerySet[Instance], name: str, value: bool | None
    ) -> QuerySet[Instance]:
        """Instances the signed-in person owns: their customers' (``Customer.owner_ce``)
        and those they own themselves (``Instance.owner``, a trial's deciding CE)."""
        if not value:
            return queryset
        user = getattr(self.request, "user", None)
        if user is None or not user.is_authenticated:
            return queryset.none()
        return queryset.filter(Q(customer__owner_ce=user) | Q(owner=user))

    def by_customer(
        self, queryset: QuerySet[Instance], name: str, value: str
    ) -> QuerySet[Instance]:
        return queryset.filter(
            Q(customer__slug__icontains=value) | Q(customer__name__icontains=value)
        )

    def by_behind(
        self, queryset: QuerySet[Instance], name: str, value: bool | None
    ) -> QuerySet[Instance]:
        """Behind the newest release, or on it. Ahead (an unregistered newer build) and
        unknown versions are neither (see :mod:`instances.versions`)."""
        if value is None:
            return queryset
        position = versions.BEHIND if value else versions.CURRENT
        return queryset.filter(versions.position_q(position, self.releases, self.fleet_versions))

    def by_version_sla(
        self, queryset: QuerySet[Instance], name: str, value: str
    ) -> QuerySet[Instance]:
        if not value:
            return queryset
        return queryset.filter(
            versions.sla_q(value, self.releases, timezone.now(), self.fleet_versions)
        )

    def by_drift(self, queryset: QuerySet[Instance], name: str, value: str) -> QuerySet[Instance]:
        if value == DRIFT_ANY:
            return queryset.exclude(drift="")
        if value == DRIFT_NONE:
            return queryset.filter(drift="")
        return queryset.filter(drift=value)


class OperationFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=OperationKind.choices, empty_label="All")
    state = django_filters.ChoiceFilter(choices=OperationState.choices, empty_label="All")
    instance = django_filters.CharFilter(method="by_instance", label="Instance")

    class Meta:
        model = Operation
        fields = ["kind", "state", "instance"]

    def by_instance(
        self, queryset: QuerySet[Operation], name: str, value: str
    ) -> QuerySet[Operation]:
        if value.lower() == "fleet":  # fleet-wide operations have no instance
            return queryset.filter(instance__isnull=True)
        return queryset.filter(instance__slug__icontains=value)
