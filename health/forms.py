"""Forms of the health pages: they parse (UTC times, which fields a window kind needs); the
rules (order of the ends, past or future, length, retention) live in
health.services.maintenance,
whose MaintenanceError the views show on the form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.utils import timezone

from health.choices import WindowKind
from health.models import WEEKDAYS

_DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _utc(value: datetime | None) -> datetime | None:
    """Form datetimes without an offset are UTC (the pages say so), whatever TIME_ZONE is."""
    if value is None:
        return None
    if timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class UtcDateTimeField(forms.DateTimeField):
    widget = _DATETIME_WIDGET

    def to_python(self, value: Any) -> datetime | None:
        if isinstance(value, str) and value.strip():
            try:
                return _utc(datetime.fromisoformat(value.strip()))
            except ValueError:
                pass
        parsed = super().to_python(value)
        return _utc(parsed)


class MaintenanceWindowForm(forms.Form):
    """A weekly window (weekday, start time, duration) or a one-off window (start, end)."""

    kind = forms.ChoiceField(choices=WindowKind.choices, initial=WindowKind.WEEKLY)
    weekday = forms.TypedChoiceField(choices=WEEKDAYS, coerce=int, required=False)
    start_time = forms.TimeField(
        required=False, label="Start time (UTC)", widget=forms.TimeInput(attrs={"type": "time"})
    )
    # No range here: how long a window may last is the service's rule (window_create_weekly).
    duration_minutes = forms.IntegerField(required=False, label="Duration (minutes)")
    starts_at = UtcDateTimeField(required=False, label="Starts (UTC)")
    ends_at = UtcDateTimeField(required=False, label="Ends (UTC)")
    reason = forms.CharField(max_length=255)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == WindowKind.WEEKLY:
            for name in ("weekday", "start_time", "duration_minutes"):
                if data.get(name) in (None, ""):
                    self.add_error(name, "Required for a weekly window.")
        elif data.get("kind") == WindowKind.ONE_OFF:
            for name in ("starts_at", "ends_at"):
                if data.get(name) is None and name not in self.errors:
                    self.add_error(name, "Required for a one-off window.")
        return data


class MarkMaintenanceForm(forms.Form):
    """A past time range to count as maintenance, and why."""

    starts_at = UtcDateTimeField(label="From (UTC)")
    ends_at = UtcDateTimeField(label="Until (UTC)")
    reason = forms.CharField(max_length=255, widget=forms.Textarea(attrs={"rows": 2}))
