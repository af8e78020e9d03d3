"""``{{ approval|subject_label }}`` and ``{{ approval|subject_url }}``: what an approval is
about and where its subject's page is, as the subject's app registered them."""

from __future__ import annotations

from django import template

from mi_admin.approvals import registry
from mi_admin.approvals.models import ApprovalRequest

register = template.Library()


@register.filter
def subject_label(approval: ApprovalRequest) -> str:
    return registry.subject_label(approval.subject_kind)


@register.filter
def subject_url(approval: ApprovalRequest) -> str:
    return registry.subject_url(approval.subject_kind, approval.subject_id)
