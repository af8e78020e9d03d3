"""Forms of the provisioning and trial pages: parse only; the rules live in the services."""

from __future__ import annotations

from django import forms

from instances.choices import (
    Architecture,
    CodeHostAccess,
    InstanceKind,
    NetworkAccess,
    ProvisioningStep,
    Size,
)
from instances.models import Customer
from instances.provisioning_selectors import owner_choices
from mi_admin.accounts.models import User


class ProvisionForm(forms.Form):
    """A new instance started directly by DevOps/Admin (requests pass the same values)."""

    customer = forms.ModelChoiceField(
        queryset=Customer.objects.order_by("name"),
        required=False,
        empty_label="— a new customer —",
        help_text="Or give a new customer's name and slug below.",
    )
    customer_name = forms.CharField(max_length=200, required=False, label="New customer name")
    customer_slug = forms.CharField(max_length=63, required=False, label="New customer slug")
    slug = forms.CharField(max_length=63, label="Instance slug")
    kind = forms.ChoiceField(
        choices=[
            (InstanceKind.TRIAL, "Trial"),
            (InstanceKind.PRODUCTION, "Production"),
            (InstanceKind.INTERNAL, "Internal (test)"),
        ]
    )
    architecture = forms.ChoiceField(choices=Architecture.choices, initial=Architecture.V1_1)
    size = forms.ChoiceField(choices=Size.choices)
    admin_contact = forms.CharField(max_length=254, label="Admin contact (email)")
    code_host_access = forms.ChoiceField(
        choices=CodeHostAccess.choices, label="Code-host connectivity"
    )
    network_access = forms.ChoiceField(choices=NetworkAccess.choices, label="Inbound access")
    allowed_cidrs = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Allowed CIDRs",
        help_text="One per line or comma-separated; only for an IP allowlist.",
    )
    gcp_project = forms.CharField(
        max_length=63, required=False, help_text="Default: sourcegraph-managed-<slug>."
    )
    gcp_zone = forms.CharField(max_length=63, initial="us-central1-f")
    vm_name = forms.CharField(max_length=63, initial="default-red-instance", label="VM name")
    url = forms.CharField(
        max_length=255,
        required=False,
        label="URL",
        help_text="Default: https://<slug>.sourcegraph.com.",
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Owning CE",
        empty_label="— the customer's CE —",
    )
    reason = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["owner"].queryset = owner_choices()  # type: ignore[attr-defined]

    def cidr_list(self) -> list[str]:
        raw = self.cleaned_data.get("allowed_cidrs") or ""
        return [part.strip() for part in raw.replace(",", "\n").splitlines() if part.strip()]


class CheckTickForm(forms.Form):
    step = forms.ChoiceField(choices=ProvisioningStep.choices)
    note = forms.CharField(max_length=255, required=False)


class CheckUntickForm(forms.Form):
    step = forms.ChoiceField(choices=ProvisioningStep.choices)
    reason = forms.CharField(max_length=1000)


class TrialEndForm(forms.Form):
    ends_on = forms.DateField(label="Trial ends on", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(max_length=1000)


class TrialConvertForm(forms.Form):
    reason = forms.CharField(max_length=1000)


class OwnerForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["owner"].queryset = owner_choices()  # type: ignore[attr-defined]
