"""What the health app adds to shared pages (imported by ``HealthConfig.ready``): health
columns and a "Health" filter on the fleet list, a panel on the instance page, the summary
line on the dashboard. ``instances`` and the UI shell never import this app."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import HttpRequest

from health.selectors import (
    COMPACT_BAR_DAYS,
    HEALTH_FILTER_CHOICES,
    filter_health,
    health_for_instances,
    health_summary,
)
from health.selectors.states import health_order
from health.selectors.uptime import uptime_30d_order
from instances.models import Instance
from mi_admin.accounts.roles import Perm
from mi_admin.api.extensions import api_fields
from mi_admin.ui.extensions import (
    DASHBOARD,
    INSTANCE_DETAIL,
    INSTANCE_LIST,
    Column,
    columns,
    list_filter,
    panel,
    widget,
)


@columns(
    INSTANCE_LIST,
    header="health/_header_cells.html",
    cell="health/_cells.html",
    fields=[
        Column(
            "health", "Health", cell="health/_cell_state.html", sort="health", order_by=health_order
        ),
        Column(
            "uptime_30d",
            "30 d uptime",
            cell="health/_cell_uptime.html",
            css="num",
            sort="uptime",
            order_by=uptime_30d_order,
        ),
        Column("status_bar", "Last 30 days", cell="health/_cell_bar.html"),
    ],
)
def health_columns(ids: list[int]) -> dict[int, Any]:
    return health_for_instances(ids, bar_days=COMPACT_BAR_DAYS)


def _by_health(queryset: QuerySet[Instance], name: str, value: str) -> QuerySet[Instance]:
    return filter_health(queryset, value)


@list_filter(INSTANCE_LIST)
def health() -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(
        method=_by_health, choices=HEALTH_FILTER_CHOICES, empty_label="All", label="Health"
    )


@panel(INSTANCE_DETAIL, "health/_panel.html")
def health_panel(instance: Instance) -> dict[str, Any]:
    row = health_for_instances([instance.pk], day_details=True)[instance.pk]
    return {"health_row": row, "details_link": True}


@widget(DASHBOARD, "health/_summary.html", perm=Perm.VIEW_FLEET, order=10)
def health_counts(request: HttpRequest) -> dict[str, Any]:
    return {"health_summary": health_summary()}


@api_fields("instance", "health", description="state, last probe, uptime % (24h, 7d, 30d)")
def health_api_field(ids: list[int]) -> dict[int, Any]:
    return {
        pk: {
            "state": row.state,
            "last_probe_at": row.last_probe_at.isoformat() if row.last_probe_at else None,
            "last_latency_ms": row.last_latency_ms,
            "last_error": row.last_error,
            "uptime": row.uptime.as_dict(),
        }
        for pk, row in health_for_instances(ids, bar_days=0).items()
    }
