"""Forms of the fleet UI."""

from __future__ import annotations

import uuid
from datetime import time

from django import forms

from instances.windows import DAY_NAMES, MAX_MINUTES, WeeklyWindow, WindowError


class OperationRequestForm(forms.Form):
    """The button that asks for an operation. The page renders a fresh key; a double
    submit or a browser retry posts it again and gets the first operation back."""

    idempotency_key = forms.UUIDField(required=False, widget=forms.HiddenInput)

    @classmethod
    def fresh(cls) -> OperationRequestForm:
        return cls(initial={"idempotency_key": uuid.uuid4()})

    def key_for(self, scope: str) -> str:
        """The operation's idempotency key, scoped so a key cannot reach another target;
        empty when the form carried none (the service then makes one up)."""
        key: uuid.UUID | None = self.cleaned_data["idempotency_key"]
        return f"ui:{scope}:{key.hex}" if key else ""


class UpgradeForm(OperationRequestForm):
    """ "Upgrade to…": the release to go to. Which releases are allowed is the service's
    rule (registered, newer than what the instance runs); the form only reads the value."""

    target = forms.CharField(max_length=32, strip=True)


class RollbackForm(OperationRequestForm):
    """ "Roll back": why (required; it goes on the operation and in the audit trail)."""

    reason = forms.CharField(max_length=500, strip=True, widget=forms.Textarea)


class MaintenanceWindowForm(forms.Form):
    """An instance's weekly maintenance window (UTC): days, start and length; or, with
    ``action=remove``, no window. Parses the input; the window's rules are
    :class:`~instances.windows.WeeklyWindow`'s (their message is the form's error)."""

    days = forms.TypedMultipleChoiceField(
        choices=list(enumerate(DAY_NAMES)),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    start = forms.TimeField(required=False, input_formats=["%H:%M"], help_text="UTC, HH:MM")
    minutes = forms.IntegerField(required=False, min_value=1, max_value=MAX_MINUTES)
    action = forms.ChoiceField(choices=[("set", "Save"), ("remove", "Remove")], initial="set")

    @classmethod
    def for_window(cls, window: WeeklyWindow | None) -> MaintenanceWindowForm:
        if window is None:
            return cls(initial={"days": [], "start": None, "minutes": 120})
        return cls(
            initial={
                "days": sorted(window.days),
                "start": window.start.strftime("%H:%M"),
                "minutes": window.minutes,
            }
        )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("action") == "remove":
            data["window"] = None
            return data
        start: time | None = data.get("start")
        minutes = data.get("minutes")
        if self.errors:
            return data
        if start is None or minutes is None:
            raise forms.ValidationError("Give the window's start (UTC, HH:MM) and its length.")
        try:
            data["window"] = WeeklyWindow(
                days=frozenset(data.get("days") or ()),
                start=start,
                minutes=int(minutes),
            )
        except WindowError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


class LifecycleForm(OperationRequestForm):
    """ "Suspend" / "Resume" on the instance page: why (required; on the operation and in
    the audit trail, which records that it was run directly, not from a request)."""

    reason = forms.CharField(max_length=500, strip=True, widget=forms.Textarea, required=False)


class TeardownConfirmForm(forms.Form):
    """The teardown's confirmation: the approval's reference, the instance's name typed by
    hand, and why. Whether they are right is the service's rule; the form only reads them."""

    reference = forms.CharField(max_length=64, strip=True, widget=forms.HiddenInput)
    typed_name = forms.CharField(max_length=63, strip=True, required=False)
    reason = forms.CharField(max_length=500, strip=True, widget=forms.Textarea, required=False)


class CancelForm(forms.Form):
    """ "Cancel the teardown": why (required)."""

    reason = forms.CharField(max_length=500, strip=True, required=False)
