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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
class Columns:
    """Cells added to every row of a list. ``load(ids)`` → per row id, the ``row`` context of
    ``cell_template``; ``header_template`` renders the matching <th> cells."""

    name: str
    header_template: str
    cell_template: str
    load: Callable[[list[int]], dict[int, Any]]
    order: int


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


def columns(page: str, *, header: str, cell: str, order: int = 100) -> Callable[[F], F]:
    """``@columns(INSTANCE_LIST, header=..., cell=...)`` on ``def load(ids) -> {id: row}``."""

    def register(load: F) -> F:
        _add("columns", page, Columns(load.__name__, header, cell, load, order))
        return load

    return register


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


def columns_for(page: str, ids: list[int]) -> list[LoadedColumns]:
    """Each registered column set with its data for these row ids."""
    return [LoadedColumns(entry, entry.load(ids)) for entry in _registry["columns"][page]]


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
