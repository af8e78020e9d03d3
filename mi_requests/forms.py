"""The intake forms (one per kind) and the action forms. Forms parse; the rules live in
:mod:`mi_requests.services`. A refused form is shown again with what was typed."""

from __future__ import annotations

import ipaddress
from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from instances.choices import (
    Architecture,
    CodeHostAccess,
    InstanceKind,
    LifecycleState,
    NetworkAccess,
    Size,
)
from instances.models import Customer, Instance
from mi_requests.choices import CustomerChoice, RequestKind

MAX_CIDRS = 100
# Ranges no customer's public egress can be in: private (RFC 1918), shared (RFC 6598),
# loopback, link-local, unique-local IPv6. Documentation ranges are allowed (examples).
NOT_PUBLIC = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def parse_cidrs(text: str) -> tuple[list[str], list[str]]:
    """One CIDR per line (blank lines and ``# comments`` ignored) → (normalised, errors).
    Each error names its line, so a long list is fixed without guessing."""
    cidrs: list[str] = []
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            network = ipaddress.ip_network(line, strict=True)
        except ValueError as exc:
            hint = ""
            if "has host bits set" in str(exc):
                try:
                    hint = f" (did you mean {ipaddress.ip_network(line, strict=False)}?)"
                except ValueError:
                    hint = ""
            errors.append(f"Line {number}: {line!r} is not a valid CIDR: {exc}{hint}.")
            continue
        if any(
            network.version == other.version and network.overlaps(other) for other in NOT_PUBLIC
        ):
            errors.append(
                f"Line {number}: {network} is not a public range; an allowlist names the "
                "customer's public addresses."
            )
            continue
        if str(network) in cidrs:
            errors.append(f"Line {number}: {network} is listed twice.")
            continue
        cidrs.append(str(network))
    if len(cidrs) > MAX_CIDRS:
        errors.append(f"At most {MAX_CIDRS} ranges; this list has {len(cidrs)}.")
    return cidrs, errors


class InstanceField(forms.ModelChoiceField):
    """An instance chosen by slug (so ``?instance=<slug>`` pre-fills it)."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.slug} ({obj.customer}, {obj.get_state_display().lower()})"


def _instances(*states: str) -> Any:
    rows = Instance.objects.select_related("customer").order_by("slug")
    return rows.filter(state__in=states) if states else rows.exclude(state=LifecycleState.TORN_DOWN)


class IntakeForm(forms.Form):
    kind: RequestKind

    def service_kwargs(self) -> dict[str, Any]:
        """What the service needs, from the cleaned data."""
        data = self.cleaned_data
        return {"reason": data.get("reason", ""), "instance": data.get("instance")}


class NewInstanceForm(IntakeForm):
    kind = RequestKind.NEW_INSTANCE
    customer_choice = forms.ChoiceField(
        choices=CustomerChoice.choices,
        widget=forms.RadioSelect,
        label="Customer",
        initial=CustomerChoice.EXISTING,
    )
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.order_by("name"),
        required=False,
        to_field_name="slug",
        label="Existing customer",
    )
    new_customer_name = forms.CharField(max_length=200, required=False, label="New customer's name")
    instance_kind = forms.ChoiceField(
        choices=[(InstanceKind.TRIAL, "Trial"), (InstanceKind.PRODUCTION, "Production")],
        label="Kind",
    )
    architecture = forms.ChoiceField(choices=Architecture.choices, initial=Architecture.V1_1)
    size = forms.ChoiceField(choices=Size.choices)
    admin_contact = forms.EmailField(label="Customer admin contact (email)")
    code_host_access = forms.ChoiceField(
        choices=CodeHostAccess.choices, widget=forms.RadioSelect, label="Code-host connectivity"
    )
    inbound_access = forms.ChoiceField(
        choices=NetworkAccess.choices, widget=forms.RadioSelect, label="Inbound access"
    )
    allowed_cidrs = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Allowed CIDRs (one per line)",
        help_text="Only with an IP allowlist, e.g. 203.0.113.0/24.",
    )
    security_accepted = forms.BooleanField(
        required=False, label="The customer accepts the security implications of a managed instance"
    )
    deal_qualified = forms.BooleanField(required=False, label="The deal is qualified")
    technically_qualified = forms.BooleanField(
        required=False,
        label="Technically qualified (basic technical requirements documented)",
    )
    poc_criteria_documented = forms.BooleanField(
        required=False, label="POC success criteria documented and agreed by the customer"
    )
    non_standard = forms.TypedChoiceField(
        choices=[
            ("false", "Standard"),
            ("true", "Non-standard (migration, special scale or security needs)"),
        ],
        coerce=lambda value: value == "true",
        widget=forms.RadioSelect,
        label="Scenario",
        initial="false",
        help_text="A non-standard request also passes tech review.",
    )
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Notes"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        choice = data.get("customer_choice")
        if choice == CustomerChoice.EXISTING and not data.get("customer"):
            self.add_error("customer", "Pick the existing customer.")
        if choice == CustomerChoice.NEW:
            name = (data.get("new_customer_name") or "").strip()
            if not name:
                self.add_error("new_customer_name", "Type the new customer's name.")
            elif Customer.objects.filter(name__iexact=name).exists():
                self.add_error(
                    "new_customer_name", f"{name} is already a customer: pick it from the list."
                )
        if data.get("inbound_access") == NetworkAccess.ALLOWLIST:
            cidrs, errors = parse_cidrs(data.get("allowed_cidrs") or "")
            for error in errors:
                self.add_error("allowed_cidrs", error)
            if not cidrs and not errors:
                self.add_error("allowed_cidrs", "An IP allowlist needs at least one CIDR.")
            data["cidr_list"] = cidrs
        else:
            if (data.get("allowed_cidrs") or "").strip():
                self.add_error(
                    "allowed_cidrs", "CIDRs are only for an IP allowlist; clear them or pick it."
                )
            data["cidr_list"] = []
        missing = [
            self.fields[name].label
            for name in (
                "security_accepted",
                "deal_qualified",
                "technically_qualified",
                "poc_criteria_documented",
            )
            if not data.get(name)
        ]
        if missing:
            self.add_error(
                None,
                "The checklist must be complete before DevOps is asked: "
                + "; ".join(str(label) for label in missing)
                + ".",
            )
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        existing = data.get("customer_choice") == CustomerChoice.EXISTING
        return {
            "reason": data.get("reason", ""),
            "customer": data["customer"] if existing else None,
            "new_customer_name": "" if existing else data["new_customer_name"],
            "non_standard": data["non_standard"],
            "details": {
                "instance_kind": data["instance_kind"],
                "architecture": data["architecture"],
                "size": data["size"],
                "admin_contact": data["admin_contact"],
                "code_host_access": data["code_host_access"],
                "inbound_access": data["inbound_access"],
                "allowed_cidrs": data["cidr_list"],
                "checklist": {
                    "security_accepted": True,
                    "deal_qualified": True,
                    "technically_qualified": True,
                    "poc_criteria_documented": True,
                },
            },
        }


class SuspensionForm(IntakeForm):
    kind = RequestKind.SUSPENSION
    instance = InstanceField(queryset=_instances(LifecycleState.ACTIVE), to_field_name="slug")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    expected_return = forms.DateField(
        label="Expected return date", help_text="YYYY-MM-DD", input_formats=["%Y-%m-%d"]
    )

    def clean_expected_return(self) -> date:
        value: date = self.cleaned_data["expected_return"]
        if value <= timezone.now().date():
            raise forms.ValidationError("The expected return date must be in the future.")
        return value

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs["details"] = {"expected_return": self.cleaned_data["expected_return"].isoformat()}
        return kwargs


class ResumeForm(IntakeForm):
    kind = RequestKind.RESUME
    instance = InstanceField(queryset=_instances(LifecycleState.SUSPENDED), to_field_name="slug")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class TeardownForm(IntakeForm):
    kind = RequestKind.TEARDOWN
    instance = InstanceField(queryset=_instances(), to_field_name="slug")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    data_loss_acknowledged = forms.BooleanField(
        label="I understand that all of the instance's data is deleted for good",
        error_messages={"required": "Acknowledge that all data is deleted for good."},
    )

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs["details"] = {"data_loss_acknowledged": True}
        return kwargs


class FeatureForm(IntakeForm):
    kind = RequestKind.FEATURE
    instance = InstanceField(queryset=_instances(), to_field_name="slug", required=False)
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        help_text="Or the customer, if not for one instance.",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), label="What is asked for")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("instance") and not data.get("customer"):
            self.add_error(None, "Pick the instance or the customer the feature is for.")
        return data

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs["customer"] = self.cleaned_data.get("customer")
        return kwargs


class TrialExtensionForm(IntakeForm):
    kind = RequestKind.TRIAL_EXTENSION
    instance = InstanceField(
        queryset=_instances().filter(kind=InstanceKind.TRIAL), to_field_name="slug"
    )
    new_end_date = forms.DateField(
        label="New trial end date", help_text="YYYY-MM-DD", input_formats=["%Y-%m-%d"]
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def clean_new_end_date(self) -> date:
        value: date = self.cleaned_data["new_end_date"]
        if value <= timezone.now().date():
            raise forms.ValidationError("The new end date must be in the future.")
        return value

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs["details"] = {"new_end_date": self.cleaned_data["new_end_date"].isoformat()}
        return kwargs


INTAKE_FORMS: dict[str, type[IntakeForm]] = {
    form.kind.value: form
    for form in (
        NewInstanceForm,
        SuspensionForm,
        ResumeForm,
        TeardownForm,
        FeatureForm,
        TrialExtensionForm,
    )
}


class CommentForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class TeardownConfirmForm(forms.Form):
    typed_name = forms.CharField(
        label="Type the instance's name to confirm", required=False, max_length=63
    )


class ProvisionForm(forms.Form):
    slug = forms.SlugField(label="New instance's slug", required=False, max_length=63)
