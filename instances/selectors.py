"""Reads of the fleet: the instance list, one instance, releases, operations, the summary.

Every read the UI needs runs a fixed number of queries, whatever the size of the fleet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from instances.choices import Drift, LifecycleState, OperationKind, OperationState
from instances.models import DeletionRecord, Instance, Operation
from instances.versions import (
    VERSION_ALIAS,
    Position,
    ReleaseHistory,
    VersionSla,
    instance_version,
    version_expression,
)
from mi_admin.sla import work_calendar_from_settings

RECENT_OPERATIONS = 20


def instance_list() -> QuerySet[Instance]:
    """All instances with their customer and their effective ``version``, by customer."""
    return (
        Instance.objects.select_related("customer")
        .annotate(**{VERSION_ALIAS: version_expression()})
        .order_by("customer__name", "slug")
    )


@dataclass(frozen=True)
class VersionView:
    """What the version and version SLA cells show for one instance."""

    position: Position
    sla: VersionSla


def instance_version_views(
    instances: list[Instance], releases: ReleaseHistory
) -> dict[int, VersionView]:
    """Version position and SLA per instance id, from the history already read (no query)."""
    now, calendar = timezone.now(), work_calendar_from_settings()
    return {
        instance.pk: VersionView(
            releases.position(instance_version(instance)),
            releases.instance_sla(instance, now=now, calendar=calendar),
        )
        for instance in instances
    }


def instance_get(*, slug: str) -> Instance | None:
    return Instance.objects.filter(slug=slug).first()


@dataclass(frozen=True)
class InstanceDetail:
    instance: Instance
    recent_operations: list[Operation]
    releases: ReleaseHistory


def instance_detail(*, slug: str) -> InstanceDetail | None:
    """One instance with its customer, its last operations and the release history."""
    instance = instance_list().select_related("customer__owner_ce").filter(slug=slug).first()
    if instance is None:
        return None
    operations = list(
        Operation.objects.filter(instance=instance)
        .select_related("actor")
        .order_by("-created_at", "-pk")[:RECENT_OPERATIONS]
    )
    return InstanceDetail(instance, operations, ReleaseHistory.load())


@dataclass(frozen=True)
class LifecycleView:
    """What the instance page says about suspension, resumption and teardown, read from
    the recent operations already loaded (no query) and, once torn down, its record."""

    last_suspend: Operation | None
    last_resume: Operation | None
    pending_teardown: Operation | None
    deletion_record: DeletionRecord | None
    # Resumed and nothing changed its version since: the page offers the upgrade.
    resumed_recently: bool


def instance_lifecycle(detail: InstanceDetail) -> LifecycleView:
    operations = detail.recent_operations  # newest first

    def latest(kind: OperationKind, state: OperationState | None = None) -> Operation | None:
        return next(
            (o for o in operations if o.kind == kind and (state is None or o.state == state)),
            None,
        )

    mutating = [
        o
        for o in operations
        if o.kind in (OperationKind.UPGRADE, OperationKind.ROLLBACK, OperationKind.RESUME)
        and o.state == OperationState.SUCCEEDED
    ]
    record = None
    if detail.instance.state == LifecycleState.TORN_DOWN:
        record = DeletionRecord.objects.filter(instance=detail.instance).first()
    return LifecycleView(
        last_suspend=latest(OperationKind.SUSPEND, OperationState.SUCCEEDED),
        last_resume=latest(OperationKind.RESUME, OperationState.SUCCEEDED),
        pending_teardown=latest(OperationKind.TEARDOWN, OperationState.PENDING),
        deletion_record=record,
        resumed_recently=bool(mutating) and mutating[0].kind == OperationKind.RESUME,
    )


def deletion_record_detail(*, pk: int) -> DeletionRecord | None:
    """One deletion record with its resources, its operation and who asked."""
    return (
        DeletionRecord.objects.select_related("operation", "requested_by", "instance")
        .prefetch_related("resources")
        .filter(pk=pk)
        .first()
    )


def operation_list() -> QuerySet[Operation]:
    return Operation.objects.select_related("instance", "instance__customer", "actor").order_by(
        "-created_at", "-pk"
    )


def operation_detail(*, pk: int) -> Operation | None:
    """One operation with its target, its actor and its step log in order."""
    return (
        Operation.objects.select_related(
            "instance", "instance__customer", "actor", "deletion_record"
        )
        .prefetch_related("steps")
        .filter(pk=pk)
        .first()
    )


@dataclass(frozen=True)
class Tally:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class FleetSummary:
    total: int
    by_state: list[Tally]
    by_drift: list[Tally]  # drifting instances only, one row per kind of drift
    drifting: int


def my_customers_summary(*, user: Any) -> dict[str, int]:
    """How many customers and instances ``user`` owns (the fleet's "My customers" filter:
    their customers' instances and those they own themselves), in one query."""
    if not getattr(user, "is_authenticated", False):
        return {"customers": 0, "instances": 0}
    return Instance.objects.filter(Q(customer__owner_ce=user) | Q(owner=user)).aggregate(
        customers=Count("customer", distinct=True), instances=Count("pk")
    )


def my_customers_exist(*, user: Any) -> bool:
    """Whether ``user`` owns any instance through "My customers" (one query)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return Instance.objects.filter(Q(customer__owner_ce=user) | Q(owner=user)).exists()


def fleet_summary() -> FleetSummary:
    """Instance counts by lifecycle state and by drift, in one query."""
    drifts = [(value, label) for value, label in Drift.choices if value]
    counts = Instance.objects.aggregate(
        total=Count("pk"),
        drifting=Count("pk", filter=~Q(drift="")),
        **{f"state_{value}": Count("pk", filter=Q(state=value)) for value in LifecycleState},
        **{f"drift_{value}": Count("pk", filter=Q(drift=value)) for value, _ in drifts},
    )
    return FleetSummary(
        total=counts["total"],
        by_state=[
            Tally(state.value, state.label, counts[f"state_{state.value}"])
            for state in LifecycleState
        ],
        by_drift=[
            Tally(value, str(label), counts[f"drift_{value}"])
            for value, label in drifts
            if counts[f"drift_{value}"]
        ],
        drifting=counts["drifting"],
    )
