"""Django admin (Admins only) for approval policies. Changes are audited by the audited admin
site. Requests and reviews are not here: only the services write them (pages: /approvals/)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from mi_admin.accounts.roles import Role
from mi_admin.approvals.models import ApprovalPolicy, ApprovalStep


class ApprovalStepForm(forms.ModelForm[ApprovalStep]):
    reviewer_roles = forms.MultipleChoiceField(
        choices=Role.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    okta_groups = forms.CharField(
        required=False,
        help_text="Okta group names, comma-separated (e.g. security, sre-leads).",
    )

    class Meta:
        model = ApprovalStep
        fields = ["position", "name", "reviewer_roles", "okta_groups", "quorum", "reason_required"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["okta_groups"] = ", ".join(self.instance.okta_groups)

    def clean_okta_groups(self) -> list[str]:
        raw: str = self.cleaned_data.get("okta_groups") or ""
        return [name.strip() for name in raw.split(",") if name.strip()]


class ApprovalStepInline(admin.TabularInline[ApprovalStep, ApprovalPolicy]):
    model = ApprovalStep
    form = ApprovalStepForm
    extra = 0
    min_num = 1


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin[ApprovalPolicy]):
    list_display = ["name", "slug", "ttl", "updated_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ApprovalStepInline]
    readonly_fields = ["created_at", "updated_at"]
