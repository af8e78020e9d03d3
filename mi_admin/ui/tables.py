"""List tables whose columns each person chooses and orders (NetBox's table configuration).

A :class:`Table` is named like its page in :mod:`mi_admin.ui.extensions` (``INSTANCE_LIST``)
and lists the owner's own columns; the columns other apps registered on that page join
them. :func:`table_columns_shown` is the one read a page makes (one query, whatever the
number of rows); writes are in :mod:`mi_admin.ui.services`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from mi_admin.ui.extensions import Column, page_columns
from mi_admin.ui.models import TablePreference


@dataclass(frozen=True)
class Table:
    """A configurable list table: ``name`` (the page's registry name), ``own`` (the owner's
    columns, drawn by its row template), then every column other apps register."""

    name: str
    label: str
    own: tuple[Column, ...]

    def available(self) -> list[Column]:
        """Every column, in the default order: the owner's, then the registered ones
        (placed before the owner's ``last`` columns, such as "Last sync")."""
        registered = page_columns(self.name)
        own = list(self.own)
        tail = [column for column in own if column.name in TAIL]
        head = [column for column in own if column.name not in TAIL]
        return [*head, *registered, *tail]

    def default(self) -> list[Column]:
        return [column for column in self.available() if column.default]

    def by_name(self) -> dict[str, Column]:
        return {column.name: column for column in self.available()}


# Owner columns that stay after the registered ones by default: when a row was last read
# closes the row, as it did before columns were configurable.
TAIL = frozenset({"last_synced_at"})


class TableConfigError(ValueError):
    """A column choice refused, with the sentence shown to the person."""


def table_columns_parse(*, table: Table, names: Sequence[str]) -> list[str]:
    """The chosen names, checked: known columns of this table, each once, at least one."""
    known = table.by_name()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise TableConfigError(
            f"Unknown column{'s' if len(unknown) > 1 else ''} for {table.label}: "
            + ", ".join(repr(name) for name in unknown[:5])
            + ". Nothing was changed."
        )
    repeated = sorted({name for name in names if list(names).count(name) > 1})
    if repeated:
        raise TableConfigError(f"Column listed twice: {', '.join(repeated)}. Nothing was changed.")
    if not names:
        raise TableConfigError("Choose at least one column. Nothing was changed.")
    return list(names)


@dataclass(frozen=True)
class ShownColumns:
    """The columns a person sees, in order; ``custom`` when they are their own choice."""

    columns: list[Column]
    custom: bool

    @property
    def names(self) -> set[str]:
        return {column.name for column in self.columns}


def table_columns_shown(
    *, table: Table, user: AbstractBaseUser | AnonymousUser | None
) -> ShownColumns:
    """The columns to draw for this person: their saved choice (names a later release no
    longer has are skipped; columns added since stay hidden until they choose them, as in
    NetBox), or the default. One query."""
    if user is None or not user.is_authenticated:
        return ShownColumns(table.default(), custom=False)
    saved = (
        TablePreference.objects.filter(user_id=user.pk, table=table.name)
        .values_list("columns", flat=True)
        .first()
    )
    if not saved:
        return ShownColumns(table.default(), custom=False)
    known = table.by_name()
    chosen = [known[name] for name in saved if name in known]
    return ShownColumns(chosen or table.default(), custom=bool(chosen))
