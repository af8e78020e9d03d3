"""Parse only: the rules live in services."""

from __future__ import annotations

from django import forms

from instances.models import Release


class PlanForm(forms.Form):
    release = forms.ModelChoiceField(
        queryset=Release.objects.order_by("-released_at"), to_field_name="version"
    )
    failure_budget = forms.IntegerField(min_value=0, max_value=100, initial=0)
    hold_seconds = forms.IntegerField(
        min_value=0, initial=0, label="Hold after each wave (seconds)"
    )
    only_in_maintenance_windows = forms.BooleanField(
        required=False,
        label="Only inside maintenance windows",
        help_text="Each instance is upgraded only while its weekly maintenance window is open "
        "(the rollout waits for it); instances without a window are not held.",
    )


class ActionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("start", "Start"),
            ("pause", "Pause"),
            ("resume", "Resume"),
            ("abort", "Abort"),
            ("waive", "Waive the schedule"),
        ]
    )
    reason = forms.CharField(max_length=500, required=False)


class TargetActionForm(forms.Form):
    action = forms.ChoiceField(choices=[("retry", "Retry"), ("skip", "Skip")])
    reason = forms.CharField(max_length=500, required=False)


class FreezeForm(forms.Form):
    action = forms.ChoiceField(choices=[("freeze", "Freeze"), ("lift", "Lift")])
    reason = forms.CharField(max_length=500, required=False)


class MoveForm(forms.Form):
    target = forms.IntegerField(min_value=1)
    wave = forms.IntegerField(min_value=0)


class HoldForm(forms.Form):
    wave = forms.IntegerField(min_value=0)
    hold_seconds = forms.IntegerField(min_value=0)


class ShareForm(forms.Form):
    """A wave's cumulative shares; the range is checked by the service, with its message."""

    wave = forms.IntegerField(min_value=0)
    trial_pct = forms.IntegerField()
    production_pct = forms.IntegerField()
