"""What the health app adds to shared pages (registered in ``HealthConfig.ready``): health
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
from instances.models import Instance
from mi_admin.accounts.roles import Perm
from mi_admin.ui import extensions


def _page_rows(ids: list[int]) -> dict[int, Any]:
    return health_for_instances(ids, bar_days=COMPACT_BAR_DAYS)


def _panel(instance: Instance) -> dict[str, Any]:
    return {"health_row": health_for_instances([instance.pk])[instance.pk], "details_link": True}


def _by_health(queryset: QuerySet[Instance], name: str, value: str) -> QuerySet[Instance]:
    return filter_health(queryset, value)


def _health_filter() -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(
        method=_by_health, choices=HEALTH_FILTER_CHOICES, empty_label="All", label="Health"
    )


def _summary(request: HttpRequest) -> dict[str, Any]:
    return {"health_summary": health_summary()}


def register() -> None:
    extensions.register_columns(
        extensions.INSTANCE_LIST,
        extensions.Columns(
            name="health",
            header_template="health/_header_cells.html",
            cell_template="health/_cells.html",
            load=_page_rows,
        ),
    )
    extensions.register_filter(
        extensions.INSTANCE_LIST, extensions.ListFilter(name="health", make=_health_filter)
    )
    extensions.register_panel(
        extensions.INSTANCE_DETAIL,
        extensions.Panel(name="health", template="health/_panel.html", load=_panel),
    )
    extensions.register_widget(
        extensions.DASHBOARD,
        extensions.Widget(
            name="health",
            template="health/_summary.html",
            load=_summary,
            perm=Perm.VIEW_FLEET,
            order=10,
        ),
    )
