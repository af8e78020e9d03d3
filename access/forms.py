"""Parse the access request form; the rules live in access.services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms

from access.models import AccessLevel


class AccessRequestForm(forms.Form):
    level = forms.ModelChoiceField(queryset=AccessLevel.objects.order_by("name"))
    minutes = forms.IntegerField(
        min_value=1, initial=60, label="Duration (minutes)", help_text="Up to the level's maximum."
    )
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    ticket_url = forms.URLField(required=False, label="Ticket link", assume_scheme="https")
    consent_ref = forms.CharField(required=False, max_length=200, label="Customer consent ref.")
    start = forms.DateTimeField(
        required=False,
        label="Start (UTC, empty = now)",
        help_text="Up to 7 days ahead, e.g. 2026-12-03 09:00.",
        input_formats=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("minutes"):
            data["duration"] = timedelta(minutes=data["minutes"])
        start: datetime | None = data.get("start")
        if start is not None:
            data["start"] = start.replace(tzinfo=UTC)  # the form says UTC
        return data


class RevokeForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class ExtendForm(forms.Form):
    minutes = forms.IntegerField(min_value=1, label="More minutes")
    justification = forms.CharField(label="Why", widget=forms.Textarea(attrs={"rows": 2}))
