"""Reads of the provisioning pages and panels: instances being provisioned, one instance's
checklist, a trial's dates and notices. Each a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import django_filters
from django.db.models import Count, Q, QuerySet

from instances.choices import InstanceKind, LifecycleState, OperationKind, ProvisioningStep
from instances.models import (
    Instance,
    InstanceProvisioning,
    Operation,
    ProvisioningCheck,
    TrialNotice,
)
from instances.services.trials import instance_owner, trial_decision_date, trial_request_links
from mi_admin.accounts.models import User

STEP_COUNT = len(ProvisioningStep)


def provisioning_list() -> QuerySet[Instance]:
    """Instances being provisioned, oldest start first, with how many boxes are ticked."""
    return (
        Instance.objects.filter(state=LifecycleState.PROVISIONING)
        .select_related("customer", "owner", "provisioning__started_by")
        .annotate(
            ticked=Count(
                "provisioning_checks", filter=Q(provisioning_checks__ticked_at__isnull=False)
            )
        )
        .order_by("provisioning__started_at", "slug")
    )


def instance_for_reference(*, reference: str) -> Instance | None:
    """The instance a caller's ``reference`` (e.g. ``"request:<pk>"``) provisions, if any:
    how a request finds its instance again (``state``/``went_live_at`` say if it is live)."""
    if not reference:
        return None
    found = InstanceProvisioning.objects.select_related("instance").filter(reference=reference)
    provisioning = found.first()
    return provisioning.instance if provisioning else None


@dataclass(frozen=True)
class ChecklistView:
    provisioning: InstanceProvisioning
    checks: list[ProvisioningCheck]
    last_verify: Operation | None
    open: bool  # the instance still provisions: boxes can be ticked

    @property
    def ticked(self) -> int:
        return sum(check.ticked for check in self.checks)

    @property
    def complete(self) -> bool:
        return self.ticked == STEP_COUNT


def provisioning_checklist(*, instance: Instance) -> ChecklistView | None:
    """The instance's checklist with who ticked what; None if it was never provisioned here."""
    provisioning = (
        InstanceProvisioning.objects.select_related("started_by")
        .filter(instance_id=instance.pk)
        .first()
    )
    if provisioning is None:
        return None
    checks = list(
        ProvisioningCheck.objects.filter(instance_id=instance.pk)
        .select_related("ticked_by")
        .order_by("pk")
    )
    last_verify = None
    open_ = instance.state == LifecycleState.PROVISIONING
    if open_:
        last_verify = (
            Operation.objects.filter(instance_id=instance.pk, kind=OperationKind.PROVISION_VERIFY)
            .order_by("-created_at")
            .first()
        )
    return ChecklistView(provisioning, checks, last_verify, open_)


@dataclass(frozen=True)
class TrialView:
    owner: User | None
    owner_is_customers: bool  # no owner of its own: the customer's CE
    is_trial: bool
    ends_on: dt.date | None
    decision_on: dt.date | None
    expired: bool
    notices: list[TrialNotice]
    request_links: list[tuple[str, str]]


def trial_view(*, instance: Instance, today: dt.date) -> TrialView:
    """The owner and, for a trial, its end, decision day and notices (one query, trials only)."""
    is_trial = instance.kind == InstanceKind.TRIAL
    ends_on = instance.trial_ends_on if is_trial else None
    notices: list[TrialNotice] = []
    if is_trial:
        notices = list(
            TrialNotice.objects.filter(instance_id=instance.pk).select_related("recipient")
        )
    return TrialView(
        owner=instance_owner(instance),
        owner_is_customers=instance.owner_id is None,
        is_trial=is_trial,
        ends_on=ends_on,
        decision_on=trial_decision_date(ends_on) if ends_on else None,
        expired=bool(ends_on and today > ends_on),
        notices=notices,
        request_links=trial_request_links(instance) if is_trial else [],
    )


def owner_choices() -> QuerySet[User]:
    """People who can own an instance: active users with a role, by name."""
    return (
        User.objects.filter(is_active=True, groups__isnull=False)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class ProvisioningFilterSet(django_filters.FilterSet):
    """The provisioning list's one FilterSet: kind and customer or slug text."""

    kind = django_filters.ChoiceFilter(choices=InstanceKind.choices, empty_label="All")
    q = django_filters.CharFilter(method="by_text", label="Customer or slug")

    class Meta:
        model = Instance
        fields = ["kind", "q"]

    def by_text(self, queryset: QuerySet[Instance], name: str, value: str) -> QuerySet[Instance]:
        return queryset.filter(
            Q(slug__icontains=value)
            | Q(customer__name__icontains=value)
            | Q(customer__slug__icontains=value)
        )
