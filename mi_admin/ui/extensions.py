"""Shared pages that apps extend without the page's app importing them (NetBox's template
extensions): columns of a list, filters of a list, panels of a detail page, dashboard
widgets, and the landing page of a role (where ``/`` takes a person whose only role it is).

A page is named by a string (``INSTANCE_LIST``...). An app declares what it adds in its own
``extensions`` module with the decorators below, and imports that module in its
``AppConfig.ready()``; the page asks the registry and renders each template with the context
its function returned. So ``instances`` shows health without importing ``health``.

Every function works for a whole page at once, in a fixed number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from django.http import HttpRequest

from mi_admin.accounts.roles import Perm, Role, user_can, user_roles

INSTANCE_LIST = "instances.instance_list"
INSTANCE_DETAIL = "instances.instance_detail"
DASHBOARD = "ui.dashboard"
# An approval request's page (mi_admin/approvals): the subject's app shows what a reviewer
# weighs; its panel's load returns None for requests about other subjects.
APPROVAL_DETAIL = "approvals.request_detail"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Column:
    """One column a person can show, hide and move (``mi_admin.ui.tables``).

    ``cell`` renders its <td> with ``row`` (what the set's ``load`` gave for the row) and
    the row's object; empty for the columns the list's owner draws itself. ``sort`` is the
    key of ``?sort=`` when the column sorts; an extension column brings ``order_by``, a
    function of no argument returning the SQL expression to order by (an annotation or a
    subquery on the list's model), so the owner's FilterSet sorts by it without importing
    the extending app. ``label`` names it in the column chooser; the header shows ``short``
    when given, explained on hover by ``title``."""

    name: str
    label: str
    cell: str = ""
    short: str = ""
    title: str = ""
    css: str = ""
    sort: str = ""
    order_by: Callable[[], Any] | None = None
    default: bool = True
    # Set by the registry: the column set whose load feeds the cell; a column registered
    # the old way (one header template for several <th>) keeps its header template here.
    source: str = ""
    header_template: str = ""


@dataclass(frozen=True)
class Columns:
    """Cells added to every row of a list. ``load(ids)`` → per row id, the ``row`` context of
    the cells; ``fields`` the columns, each shown, hidden and ordered on its own.
    (``header_template``/``cell_template``: the whole set's <th> and <td> cells at once, for
    pages that show the set as one, such as the approval page's review panel.)"""

    name: str
    header_template: str
    cell_template: str
    load: Callable[[list[int]], dict[int, Any]]
    order: int
    fields: tuple[Column, ...] = ()


@dataclass(frozen=True)
class Block:
    """A panel of a detail page (``load(obj)``) or a dashboard widget (``load(request)``):
    ``template`` rendered with the context ``load`` returns, for people holding ``perm``
    (anyone when None). A panel whose ``load`` returns None is left out for that object."""

    name: str
    template: str
    load: Callable[[Any], dict[str, Any] | None]
    perm: Perm | None
    order: int


@dataclass(frozen=True)
class ListFilter:
    """A filter added to a list's FilterSet: ``make()`` builds a django-filter ``Filter``
    whose ``method`` is a callable ``(queryset, name, value) → queryset``."""

    name: str
    make: Callable[[], Any]
    order: int


@dataclass(frozen=True)
class Landing:
    """Where ``/`` takes a person whose only role is ``role``: ``load(request)`` → a URL, or
    None to leave them on the dashboard (a CE who owns no customer yet)."""

    name: str
    load: Callable[[HttpRequest], str | None]
    order: int


_registry: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))


def _add(kind: str, page: str, item: Any) -> None:
    # ready() may run twice (tests, autoreload): registering is idempotent by name.
    entries = [entry for entry in _registry[kind][page] if entry.name != item.name]
    _registry[kind][page] = sorted([*entries, item], key=lambda entry: (entry.order, entry.name))


def columns(
    page: str,
    *,
    header: str,
    cell: str,
    fields: Sequence[Column] = (),
    order: int = 100,
) -> Callable[[F], F]:
    """``@columns(INSTANCE_LIST, header=..., cell=..., fields=[Column(...), ...])`` on
    ``def load(ids) -> {id: row}``. Without ``fields`` the set is one column (named after
    the function) that people show or hide as a whole."""

    def register(load: F) -> F:
        name = load.__name__
        own = tuple(replace(field, source=name) for field in fields) or (
            Column(
                name, name.replace("_", " ").capitalize(), cell, source=name, header_template=header
            ),
        )
        _add("columns", page, Columns(name, header, cell, load, order, own))
        return load

    return register


def page_columns(page: str) -> list[Column]:
    """The columns other apps registered on ``page``, in their order."""
    return [field for entry in _registry["columns"][page] for field in entry.fields]


def panel(page: str, template: str, *, order: int = 100) -> Callable[[F], F]:
    """``@panel(INSTANCE_DETAIL, template)`` on ``def load(obj) -> context``."""

    def register(load: F) -> F:
        _add("panels", page, Block(load.__name__, template, load, None, order))
        return load

    return register


def widget(
    page: str, template: str, *, perm: Perm | None = None, order: int = 100
) -> Callable[[F], F]:
    """``@widget(DASHBOARD, template, perm=...)`` on ``def load(request) -> context``."""

    def register(load: F) -> F:
        _add("widgets", page, Block(load.__name__, template, load, perm, order))
        return load

    return register


def list_filter(page: str, *, order: int = 100) -> Callable[[F], F]:
    """``@list_filter(INSTANCE_LIST)`` on ``def <name>() -> Filter``; the query parameter
    is the function's name."""

    def register(make: F) -> F:
        _add("filters", page, ListFilter(make.__name__, make, order))
        return make

    return register


def landing(role: Role, *, order: int = 100) -> Callable[[F], F]:
    """``@landing(Role.CE)`` on ``def load(request) -> url | None``."""

    def register(load: F) -> F:
        _add("landings", role.value, Landing(load.__name__, load, order))
        return load

    return register


def landing_for(request: HttpRequest) -> str | None:
    """The landing URL for this person, or None (the dashboard). Only a person with exactly
    one role has one: someone who is also DevOps, a manager or an Admin keeps the dashboard,
    which shows what those roles need."""
    roles = user_roles(request.user)
    if len(roles) != 1:
        return None
    (role,) = roles
    for entry in _registry["landings"][role.value]:
        url = entry.load(request)
        if url:
            return str(url)
    return None


def page_filters(page: str) -> Sequence[ListFilter]:
    return tuple(_registry["filters"][page])


@dataclass(frozen=True)
class LoadedColumns:
    columns: Columns
    rows: dict[int, Any]


def columns_for(
    page: str, ids: list[int], *, shown: Collection[str] | None = None
) -> list[LoadedColumns]:
    """Each registered column set with its data for these row ids; with ``shown`` (column
    names), only the sets one of whose columns is shown are loaded."""
    return [
        LoadedColumns(entry, entry.load(ids))
        for entry in _registry["columns"][page]
        if shown is None or any(field.name in shown for field in entry.fields)
    ]


@dataclass(frozen=True)
class LoadedBlock:
    template: str
    context: dict[str, Any]


def panels_for(page: str, obj: Any) -> list[LoadedBlock]:
    """The page's panels for ``obj``, without those whose load said None (not about it)."""
    loaded = []
    for entry in _registry["panels"][page]:
        context = entry.load(obj)
        if context is not None:
            loaded.append(LoadedBlock(entry.template, context))
    return loaded


def widgets_for(page: str, request: HttpRequest) -> list[LoadedBlock]:
    """The dashboard widgets this person may see, loaded."""
    return [
        LoadedBlock(entry.template, entry.load(request) or {})
        for entry in _registry["widgets"][page]
        if entry.perm is None or user_can(request.user, entry.perm)
    ]
