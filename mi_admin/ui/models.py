"""What the UI shell remembers per person."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TablePreference(models.Model):
    """One person's columns for one list table (NetBox's table configuration): the names
    of the columns shown, in their order. No row means the table's default columns."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="table_preferences"
    )
    table = models.CharField(max_length=100)
    columns = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "table"], name="ui_table_preference_once"),
        ]

    def __str__(self) -> str:
        return f"{self.table} columns of {self.user}"
