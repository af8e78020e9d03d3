"""Writes of the UI shell: a person's table columns. Audited: what someone sees is a setting
they changed, and support asks "why is my Health column gone?"."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from mi_admin.accounts.models import User
from mi_admin.audit.services import audit_record
from mi_admin.ui.models import TablePreference
from mi_admin.ui.tables import Table, table_columns_parse


def table_preference_save(*, user: User, table: Table, names: Sequence[str]) -> TablePreference:
    """Remember ``names`` (shown columns, in order) as this person's columns of ``table``.
    Unknown, repeated or no names raise :class:`~mi_admin.ui.tables.TableConfigError` and
    change nothing."""
    columns = table_columns_parse(table=table, names=names)
    with transaction.atomic():
        preference, created = TablePreference.objects.select_for_update().get_or_create(
            user=user, table=table.name, defaults={"columns": columns}
        )
        before = None if created else list(preference.columns)
        if before == columns:
            return preference
        if not created:
            preference.columns = columns
            preference.save(update_fields=["columns", "updated_at"])
        audit_record(
            action="ui.table_columns.saved",
            actor=user,
            obj=preference,
            before={"columns": before},
            after={"columns": columns},
        )
    return preference


def table_preference_reset(*, user: User, table: Table) -> bool:
    """Back to the table's default columns; False when the person had none of their own."""
    with transaction.atomic():
        preference = (
            TablePreference.objects.select_for_update().filter(user=user, table=table.name).first()
        )
        if preference is None:
            return False
        audit_record(
            action="ui.table_columns.reset",
            actor=user,
            obj=preference,
            before={"columns": list(preference.columns)},
            after={"columns": None},
        )
        preference.delete()
    return True
