"""Streaming CSV export of the (filtered) fleet list, safe to open in a spreadsheet."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from instances.models import Instance
from mi_admin.ui.csv_export import csv_lines

COLUMNS = [
    "slug",
    "customer",
    "customer_slug",
    "url",
    "kind",
    "architecture",
    "size",
    "state",
    "version",
    "releases_behind",
    "latest_release",
    "desired_version",
    "observed_version",
    "vm_version",
    "upgrade_ring",
    "drift",
    "drift_detail",
    "network_access",
    "allowed_cidrs",
    "gcp_project",
    "gcp_zone",
    "vm_name",
    "data_disk",
    "machine_type",
    "vm_status",
    "last_synced_at",
]


def _row(instance: Instance, release_order: dict[str, int], latest: str) -> dict[str, Any]:
    version: str = instance.version  # type: ignore[attr-defined]  # instance_list() annotation
    return {
        "slug": instance.slug,
        "customer": instance.customer.name,
        "customer_slug": instance.customer.slug,
        "url": instance.url,
        "kind": instance.kind,
        "architecture": instance.architecture,
        "size": instance.size,
        "state": instance.state,
        "version": version,
        "releases_behind": release_order.get(version),
        "latest_release": latest,
        "desired_version": instance.desired_version,
        "observed_version": instance.observed_version,
        "vm_version": instance.vm_version,
        "upgrade_ring": instance.upgrade_ring,
        "drift": instance.drift,
        "drift_detail": instance.drift_detail,
        "network_access": instance.network_access,
        "allowed_cidrs": " ".join(instance.allowed_cidrs or []),
        "gcp_project": instance.gcp_project,
        "gcp_zone": instance.gcp_zone,
        "vm_name": instance.vm_name,
        "data_disk": instance.data_disk,
        "machine_type": instance.machine_type,
        "vm_status": instance.vm_status,
        "last_synced_at": instance.last_synced_at.isoformat() if instance.last_synced_at else "",
    }


def csv_rows(instances: QuerySet[Instance], release_order: dict[str, int]) -> Iterator[str]:
    """The header, then one line per instance, read from the database in chunks."""
    latest = next(iter(release_order), "")
    rows = (_row(i, release_order, latest) for i in instances.iterator(chunk_size=1000))
    return csv_lines(COLUMNS, rows)
