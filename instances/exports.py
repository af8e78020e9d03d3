"""Streaming CSV export of the (filtered) fleet list, safe to open in a spreadsheet."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from instances.models import Instance
from instances.versions import CURRENT, ReleaseHistory, instance_version
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
    "version_position",
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


def _row(instance: Instance, releases: ReleaseHistory, latest: str) -> dict[str, Any]:
    version = instance_version(instance)
    position = releases.position(version)
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
        "version_position": position.state,
        "releases_behind": 0 if position.state == CURRENT else position.behind,
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


def csv_rows(instances: QuerySet[Instance], releases: ReleaseHistory) -> Iterator[str]:
    """The header, then one line per instance, read from the database in chunks."""
    latest = releases.latest.version if releases.latest else ""
    rows = (_row(i, releases, latest) for i in instances.iterator(chunk_size=1000))
    return csv_lines(COLUMNS, rows)
