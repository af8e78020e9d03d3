"""The "Configure table" form of any list whose owner declared a :class:`Table`.

The owner's view authorizes (the list's own permission) and hands over here; nothing in
this module knows which list it is. The form posts the columns shown (checkboxes named
``columns``) and every column's place (hidden ``order`` fields, in the order on screen:
``static/js/table_config.js`` moves them; without scripts, the arrows are submit buttons
answered here with the form in the new order, not yet saved).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict

from mi_admin.accounts.models import User
from mi_admin.ui.extensions import Column
from mi_admin.ui.lists import render_page_or_partial
from mi_admin.ui.services import table_preference_reset, table_preference_save
from mi_admin.ui.tables import (
    ShownColumns,
    Table,
    TableConfigError,
    table_columns_parse,
    table_columns_shown,
)


@dataclass(frozen=True)
class ConfigItem:
    column: Column
    shown: bool


def table_config_context(
    *, table: Table, shown: ShownColumns, action: str, query: str, error: str = ""
) -> dict[str, Any]:
    """What ``ui/_table_config.html`` needs: the shown columns in their order, then the
    hidden ones in the default order."""
    names = shown.names
    hidden = [column for column in table.available() if column.name not in names]
    items = [ConfigItem(column, True) for column in shown.columns] + [
        ConfigItem(column, False) for column in hidden
    ]
    return {
        "table": table,
        "items": items,
        "custom": shown.custom,
        "action": action,
        "query": _clean_query(query),
        "error": error,
    }


def _clean_query(query: str) -> str:
    # The list's filters, carried through the form and back: re-encoded, so only a query
    # string ever reaches the redirect.
    return QueryDict(query).urlencode()


def _moved(order: list[str], move: str) -> list[str]:
    name, _, direction = move.rpartition(":")
    if name not in order:
        return order
    index = order.index(name)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
    return order


def table_configure(
    request: HttpRequest, *, table: Table, action: str, list_url: str
) -> HttpResponse:
    """GET: the form (alone for htmx, else as a page). POST: save (``columns`` in
    ``order``), ``reset`` to the default, or ``move`` one column up or down (shown again,
    not saved). Saved or reset: back to the list with its filters; refused: the form again
    (400) with the reason."""
    user: User = request.user  # type: ignore[assignment]  # the owner's rule let only people in
    query = request.POST.get("query", "") if request.method == "POST" else request.GET.urlencode()

    def form(shown: ShownColumns, *, error: str = "", status: int = 200) -> HttpResponse:
        context = table_config_context(
            table=table, shown=shown, action=action, query=query, error=error
        )
        context["list_url"] = list_url
        # htmx fetches the form alone into the list page's "Configure table" panel.
        return render_page_or_partial(
            request, "ui/table_config.html", "ui/_table_config.html", context, status=status
        )

    if request.method != "POST":
        return form(table_columns_shown(table=table, user=user))
    back = list_url + (f"?{_clean_query(query)}" if _clean_query(query) else "")
    if "reset" in request.POST:
        table_preference_reset(user=user, table=table)
        return HttpResponseRedirect(back)
    order = request.POST.getlist("order")
    checked = list(dict.fromkeys(request.POST.getlist("columns")))
    try:
        # Every name the form sent must be a column of this table, shown or not.
        table_columns_parse(table=table, names=list(dict.fromkeys([*order, *checked])))
        if "move" in request.POST:
            known = table.by_name()
            moved = _moved(list(dict.fromkeys(order)), request.POST["move"])
            chosen = [known[name] for name in moved if name in checked]
            return form(ShownColumns(chosen, custom=True))
        names = [name for name in dict.fromkeys(order) if name in checked]
        names += [name for name in checked if name not in names]
        table_preference_save(user=user, table=table, names=names)
    except TableConfigError as exc:
        return form(table_columns_shown(table=table, user=user), error=str(exc), status=400)
    return HttpResponseRedirect(back)
