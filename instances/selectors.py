"""Reads of the fleet: the instance list, one instance, releases, operations, the summary.

Every read the UI needs runs a fixed number of queries, whatever the size of the fleet.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import CharField, Count, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf

from instances.choices import Drift, LifecycleState
from instances.models import Instance, Operation, Release

RECENT_OPERATIONS = 20


def _version() -> Coalesce:
    # What the instance reports at /__version wins; the VM metadata of the last inventory
    # sync stands in until the first probe answers.
    return Coalesce(
        NullIf(F("observed_version"), Value("")), F("vm_version"), output_field=CharField()
    )


def instance_list() -> QuerySet[Instance]:
    """All instances with their customer and their effective ``version``, by customer."""
    return (
        Instance.objects.select_related("customer")
        .annotate(version=_version())
        .order_by("customer__name", "slug")
    )


def release_latest() -> Release | None:
    return Release.objects.order_by("-released_at", "-pk").first()


def release_order() -> dict[str, int]:
    """Every release version → how many releases are newer (0 = the latest), one query.

    The first key is the latest version; a version missing from the dict is not a release
    we know of.
    """
    versions = Release.objects.order_by("-released_at", "-pk").values_list("version", flat=True)
    return {version: index for index, version in enumerate(versions)}


def instance_get(*, slug: str) -> Instance | None:
    return Instance.objects.filter(slug=slug).first()


@dataclass(frozen=True)
class InstanceDetail:
    instance: Instance
    recent_operations: list[Operation]
    release_order: dict[str, int]


def instance_detail(*, slug: str) -> InstanceDetail | None:
    """One instance with its customer, its last operations and the release order."""
    instance = instance_list().select_related("customer__owner_ce").filter(slug=slug).first()
    if instance is None:
        return None
    operations = list(
        Operation.objects.filter(instance=instance)
        .select_related("actor")
        .order_by("-created_at", "-pk")[:RECENT_OPERATIONS]
    )
    return InstanceDetail(instance, operations, release_order())


def operation_list() -> QuerySet[Operation]:
    return Operation.objects.select_related("instance", "instance__customer", "actor").order_by(
        "-created_at", "-pk"
    )


def operation_detail(*, pk: int) -> Operation | None:
    """One operation with its target, its actor and its step log in order."""
    return (
        Operation.objects.select_related("instance", "instance__customer", "actor")
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
