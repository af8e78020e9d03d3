"""Shared pages that apps extend without the page's app importing them (NetBox's template
extensions): columns of a list, panels of a detail page, filters of a list, dashboard widgets.

A page is named by a string (``"instances.instance_list"``). An app registers what it adds
in its ``AppConfig.ready()``; the page asks the registry and renders each template with the
context its ``load`` returned. So ``instances`` shows health without importing ``health``.

Every ``load`` works for a whole page at once, in a fixed number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from mi_admin.accounts.roles import Perm, user_can

INSTANCE_LIST = "instances.instance_list"
INSTANCE_DETAIL = "instances.instance_detail"
DASHBOARD = "ui.dashboard"


@dataclass(frozen=True)
class Columns:
    """Cells added to every row of a list. ``load(ids)`` → per row id, the ``row`` context of
    ``cell_template``; ``header_template`` renders the matching <th> cells."""

    name: str
    header_template: str
    cell_template: str
    load: Callable[[list[int]], dict[int, Any]]
    order: int = 100


@dataclass(frozen=True)
class Panel:
    """A section of a detail page. ``load(obj)`` → the template's context."""

    name: str
    template: str
    load: Callable[[Any], dict[str, Any]]
    order: int = 100


@dataclass(frozen=True)
class ListFilter:
    """A filter an app adds to a list's FilterSet. ``make()`` builds a django-filter
    ``Filter`` whose ``method`` is a callable ``(queryset, name, value) → queryset``."""

    name: str
    make: Callable[[], Any]
    order: int = 100


@dataclass(frozen=True)
class Widget:
    """A block of the dashboard, shown to people holding ``perm`` (anyone when None)."""

    name: str
    template: str
    load: Callable[[HttpRequest], dict[str, Any]]
    perm: Perm | None = None
    order: int = 100


@dataclass
class _Registry:
    columns: dict[str, list[Columns]] = field(default_factory=lambda: defaultdict(list))
    panels: dict[str, list[Panel]] = field(default_factory=lambda: defaultdict(list))
    filters: dict[str, list[ListFilter]] = field(default_factory=lambda: defaultdict(list))
    widgets: dict[str, list[Widget]] = field(default_factory=lambda: defaultdict(list))


_registry = _Registry()


def _add(bucket: dict[str, list[Any]], page: str, item: Any) -> None:
    # ready() may run twice (tests, autoreload): registering is idempotent by name.
    entries = [entry for entry in bucket[page] if entry.name != item.name]
    bucket[page] = sorted([*entries, item], key=lambda entry: (entry.order, entry.name))


def register_columns(page: str, columns: Columns) -> None:
    _add(_registry.columns, page, columns)


def register_panel(page: str, panel: Panel) -> None:
    _add(_registry.panels, page, panel)


def register_filter(page: str, list_filter: ListFilter) -> None:
    _add(_registry.filters, page, list_filter)


def register_widget(page: str, widget: Widget) -> None:
    _add(_registry.widgets, page, widget)


def page_filters(page: str) -> Sequence[ListFilter]:
    return tuple(_registry.filters[page])


@dataclass(frozen=True)
class LoadedColumns:
    columns: Columns
    rows: dict[int, Any]


def columns_for(page: str, ids: list[int]) -> list[LoadedColumns]:
    """Each registered column set with its data for these row ids."""
    return [LoadedColumns(columns, columns.load(ids)) for columns in _registry.columns[page]]


@dataclass(frozen=True)
class LoadedBlock:
    template: str
    context: dict[str, Any]


def panels_for(page: str, obj: Any) -> list[LoadedBlock]:
    return [LoadedBlock(panel.template, panel.load(obj)) for panel in _registry.panels[page]]


def widgets_for(page: str, request: HttpRequest) -> list[LoadedBlock]:
    """The dashboard widgets this person may see, loaded."""
    return [
        LoadedBlock(widget.template, widget.load(request))
        for widget in _registry.widgets[page]
        if widget.perm is None or user_can(request.user, widget.perm)
    ]
