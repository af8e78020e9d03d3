"""Plain functions that create fleet rows for tests and the bench. No mocks, real rows.

``make_fleet(n)`` builds a varied fleet with ``bulk_create`` (a handful of queries whatever
``n``): customers with one to three instances each, every kind, architecture and lifecycle
state, instances spread over the release history, some drifting.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from instances.choices import (
    Architecture,
    Drift,
    InstanceKind,
    LifecycleState,
    OperationKind,
    OperationState,
    ReleaseKind,
    StepState,
)
from instances.models import (
    Customer,
    DeletedResource,
    DeletionRecord,
    Instance,
    Operation,
    OperationStep,
    Release,
)
from mi_admin.accounts.models import User

# Oldest first; the last one is the latest release.
RELEASE_HISTORY = ["5.4.0", "5.5.0", "5.6.0", "5.7.0", "5.8.0", "5.9.0"]
LATEST = RELEASE_HISTORY[-1]
_EPOCH = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


def make_customer(slug: str = "acme", **fields: Any) -> Customer:
    fields.setdefault("name", slug.replace("-", " ").title())
    customer, _ = Customer.objects.get_or_create(slug=slug, defaults=fields)
    return customer


def make_instance(
    slug: str = "acme-prod", *, customer: Customer | None = None, **fields: Any
) -> Instance:
    """An active production v1.1 instance on the latest release, unless told otherwise."""
    if customer is None:
        customer = make_customer(slug.rsplit("-", 1)[0] if "-" in slug else slug)
    fields.setdefault("url", f"https://{slug}.sourcegraph.example")
    fields.setdefault("kind", InstanceKind.PRODUCTION)
    fields.setdefault("architecture", Architecture.V1_1)
    fields.setdefault("state", LifecycleState.ACTIVE)
    fields.setdefault("gcp_project", f"mi-{slug}")
    return Instance.objects.create(customer=customer, slug=slug, **fields)


def make_simulated_instance(slug: str = "acme-prod", **fields: Any) -> Instance:
    """An active v1.1 production instance of customer acme, in the project and VM the fleet
    simulator serves for ``slug`` (load it there with ``fleetsim.upsert_instances``)."""
    customer, _ = Customer.objects.get_or_create(slug="acme", defaults={"name": "Acme"})
    fields.setdefault("url", f"http://127.0.0.1:1/i/{slug}")
    fields.setdefault("kind", InstanceKind.PRODUCTION)
    fields.setdefault("architecture", Architecture.V1_1)
    fields.setdefault("state", LifecycleState.ACTIVE)
    fields.setdefault("gcp_project", f"sourcegraph-managed-{slug}")
    fields.setdefault("vm_name", "default-red-instance")
    return Instance.objects.create(customer=customer, slug=slug, **fields)


def make_release(version: str, *, released_at: dt.datetime | None = None, **fields: Any) -> Release:
    if released_at is None:
        released_at = _EPOCH + dt.timedelta(days=30 * Release.objects.count())
    release, _ = Release.objects.get_or_create(
        version=version, defaults={"released_at": released_at, **fields}
    )
    return release


def make_releases(versions: list[str] | None = None) -> list[Release]:
    """The release history, one month apart, oldest first (one query)."""
    versions = versions or RELEASE_HISTORY
    return Release.objects.bulk_create(
        [
            Release(
                version=v, kind=ReleaseKind.MONTHLY, released_at=_EPOCH + dt.timedelta(days=30 * i)
            )
            for i, v in enumerate(versions)
        ],
        ignore_conflicts=True,
    )


def make_version_fleet() -> dict[str, Instance]:
    """a: current, b: behind, c: behind but suspended, d: version only from the VM's
    metadata, e: ahead of the release (5.9.0 and 5.8.0 are the releases tests add)."""
    return {
        "a": make_instance("a-prod", observed_version="5.9.0"),
        "b": make_instance("b-prod", observed_version="5.8.0"),
        "c": make_instance("c-prod", observed_version="5.8.0", state=LifecycleState.SUSPENDED),
        "d": make_instance("d-prod", observed_version="", vm_version="5.9.0"),
        "e": make_instance("e-trial", observed_version="5.10.0", kind=InstanceKind.TRIAL),
    }


def make_operation(
    instance: Instance | None = None,
    *,
    kind: OperationKind = OperationKind.SYNC,
    state: OperationState = OperationState.PENDING,
    actor: User | None = None,
    steps: list[tuple[str, StepState]] | None = None,
    **fields: Any,
) -> Operation:
    """An operation row as a runner leaves it (no task is queued)."""
    now = timezone.now()
    terminal = state in (OperationState.SUCCEEDED, OperationState.FAILED, OperationState.CANCELLED)
    fields.setdefault(
        "idempotency_key", f"test-{kind}-{now.timestamp()}-{Operation.objects.count()}"
    )
    fields.setdefault("started_at", now if state != OperationState.PENDING else None)
    fields.setdefault("finished_at", now if terminal else None)
    operation = Operation.objects.create(
        instance=instance, kind=kind, state=state, actor=actor, **fields
    )
    OperationStep.objects.bulk_create(
        [
            OperationStep(
                operation=operation,
                position=i,
                name=name,
                state=step_state,
                started_at=now,
                finished_at=None if step_state == StepState.RUNNING else now,
            )
            for i, (name, step_state) in enumerate(steps or [], start=1)
        ]
    )
    return operation


def make_deletion_record(instance: Instance, **fields: Any) -> DeletionRecord:
    """A finished teardown of ``instance`` and its record, with one deleted VM."""
    actor, _ = User.objects.get_or_create(username="record-actor")
    operation = make_operation(
        instance, kind=OperationKind.TEARDOWN, state=OperationState.SUCCEEDED, actor=actor
    )
    record = DeletionRecord.objects.create(
        instance=instance,
        operation=operation,
        instance_slug=instance.slug,
        customer_name=instance.customer.name,
        gcp_project=instance.gcp_project,
        requested_by=actor,
        requested_by_label=str(actor),
        approved_by=[{"id": 0, "username": "approver", "name": "An Approver"}],
        reference="request:1",
        reason="customer left",
        created_at=timezone.now(),
        **fields,
    )
    DeletedResource.objects.create(
        record=record,
        kind="vm",
        name=instance.vm_name,
        gcp_id="1234",
        self_link=f"https://compute.example/projects/{instance.gcp_project}/vm",
        deleted_at=timezone.now(),
    )
    return record


_KINDS = list(InstanceKind)
_ARCHES = list(Architecture)
_STATES = [LifecycleState.ACTIVE] * 6 + [
    LifecycleState.SUSPENDED,
    LifecycleState.PROVISIONING,
    LifecycleState.REQUESTED,
    LifecycleState.TORN_DOWN,
]
_SUFFIX = {
    InstanceKind.INTERNAL: "test",
    InstanceKind.TRIAL: "trial",
    InstanceKind.PRODUCTION: "prod",
}


def make_fleet(n: int, *, with_history: bool = True, prefix: str = "cust") -> list[Instance]:
    """``n`` instances of ``ceil(n / 3)``-ish customers, created in bulk.

    With ``with_history`` the release history exists too (latest :data:`LATEST`), each
    running instance reports a version from it, and each instance has one finished sync
    operation with two steps. Without it: no releases and no operations.
    """
    now = timezone.now()
    customers = Customer.objects.bulk_create(
        [
            Customer(
                name=f"Customer {prefix} {i:05d}",
                slug=f"{prefix}-{i:05d}",
                region=("AMER", "EMEA", "APAC")[i % 3],
            )
            for i in range((n + 2) // 3)
        ]
    )
    instances = []
    for i in range(n):
        customer = customers[i // 3]
        kind = _KINDS[i % len(_KINDS)]
        slug = f"{customer.slug}-{_SUFFIX[kind]}"
        state = _STATES[i % len(_STATES)]
        running = state in (LifecycleState.ACTIVE, LifecycleState.SUSPENDED)
        version = RELEASE_HISTORY[-1 - (i % 4)] if with_history and running else ""
        drift = Drift.NONE
        if state == LifecycleState.ACTIVE and i % 17 == 5:
            drift = Drift.VM_STOPPED
        elif state == LifecycleState.SUSPENDED and i % 4 == 2:
            drift = Drift.VM_RUNNING
        instances.append(
            Instance(
                customer=customer,
                slug=slug,
                url=f"https://{slug}.sourcegraph.example",
                kind=kind,
                architecture=_ARCHES[i % len(_ARCHES)],
                state=state,
                gcp_project=f"mi-{customer.slug}-{i % 3}",
                observed_version=version if i % 5 else "",  # some not probed yet
                vm_version=version,
                desired_version=version,
                vm_status="RUNNING" if state == LifecycleState.ACTIVE and not drift else "",
                drift=drift,
                drift_detail=Drift(drift).label if drift else "",
                last_synced_at=now - dt.timedelta(minutes=i % 60) if running else None,
            )
        )
    created = Instance.objects.bulk_create(instances)
    if with_history:
        make_releases()
        _make_history(created, now)
    return created


def _make_history(instances: list[Instance], now: dt.datetime) -> None:
    operations = Operation.objects.bulk_create(
        [
            Operation(
                instance=instance,
                kind=OperationKind.SYNC,
                state=OperationState.SUCCEEDED,
                idempotency_key=f"history-sync-{instance.slug}",
                started_at=now,
                finished_at=now,
                attempts=1,
            )
            for instance in instances
        ]
    )
    OperationStep.objects.bulk_create(
        [
            OperationStep(
                operation=operation,
                position=position,
                name=name,
                state=StepState.DONE,
                started_at=now,
                finished_at=now,
            )
            for operation in operations
            for position, name in ((1, "Read the VM"), (2, "Record the inventory"))
        ],
        batch_size=2000,
    )
