"""Compute Engine API JSON for the simulator's resources (field names as the v1 REST API)."""

from __future__ import annotations

from typing import Any

from fleetsim.state import API_ROOT, Disk, Instance, Snapshot, Store, fingerprint, zone_link


def instance_json(inst: Instance) -> dict[str, Any]:
    zl = zone_link(inst.project, inst.zone)
    nic: dict[str, Any] = {
        "kind": "compute#networkInterface",
        "name": "nic0",
        "network": f"{API_ROOT}/projects/{inst.project}/global/networks/default",
        "networkIP": inst.internal_ip,
        "stackType": "IPV4_ONLY",
    }
    if inst.external_ip:
        nic["accessConfigs"] = [
            {
                "kind": "compute#accessConfig",
                "type": "ONE_TO_ONE_NAT",
                "name": "External NAT",
                "natIP": inst.external_ip,
                "networkTier": "PREMIUM",
            }
        ]
    body: dict[str, Any] = {
        "kind": "compute#instance",
        "id": str(inst.id),
        "creationTimestamp": inst.creation_timestamp,
        "name": inst.name,
        "machineType": f"{zl}/machineTypes/{inst.machine_type}",
        "status": inst.status,
        "zone": zl,
        "networkInterfaces": [nic],
        "disks": [
            {
                "kind": "compute#attachedDisk",
                "type": "PERSISTENT",
                "mode": "READ_WRITE",
                "source": f"{zl}/disks/{d.name}",
                "deviceName": d.device_name or d.name,
                "index": index,
                "boot": d.boot,
                "autoDelete": d.auto_delete,
                "interface": "SCSI",
            }
            for index, d in enumerate(inst.disks)
        ],
        "metadata": {
            "kind": "compute#metadata",
            "fingerprint": inst.metadata_fingerprint,
            "items": [{"key": k, "value": v} for k, v in inst.metadata.items()],
        },
        "labels": dict(inst.labels),
        "labelFingerprint": fingerprint(inst.labels),
        "selfLink": inst.self_link,
    }
    if inst.last_start_timestamp:
        body["lastStartTimestamp"] = inst.last_start_timestamp
    if inst.last_stop_timestamp:
        body["lastStopTimestamp"] = inst.last_stop_timestamp
    body.update(inst.api_fields)
    return body


def disk_json(store: Store, disk: Disk) -> dict[str, Any]:
    zl = zone_link(disk.project, disk.zone)
    body: dict[str, Any] = {
        "kind": "compute#disk",
        "id": str(disk.id),
        "creationTimestamp": disk.creation_timestamp,
        "name": disk.name,
        "sizeGb": str(disk.size_gb),
        "zone": zl,
        "status": disk.status,
        "selfLink": disk.self_link,
        "type": f"{zl}/diskTypes/{disk.type}",
        "labels": dict(disk.labels),
        "labelFingerprint": fingerprint(disk.labels),
    }
    users = [inst.self_link for inst in store.disk_users(disk)]
    if users:
        body["users"] = users
    return body


def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    return {
        "kind": "compute#snapshot",
        "id": str(snap.id),
        "creationTimestamp": snap.creation_timestamp,
        "name": snap.name,
        "description": snap.description,
        "status": snap.status,
        "sourceDisk": snap.source_disk,
        "sourceDiskId": str(snap.source_disk_id),
        "diskSizeGb": str(snap.disk_size_gb),
        "storageBytes": str(snap.disk_size_gb * 1024**3 // 10),
        "storageBytesStatus": "UP_TO_DATE",
        "storageLocations": ["us"],
        "labels": dict(snap.labels),
        "labelFingerprint": fingerprint(snap.labels),
        "selfLink": snap.self_link,
    }


def list_json(kind: str, self_link: str, items: list[dict[str, Any]], token: str) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind, "id": self_link, "selfLink": self_link}
    if items:
        body["items"] = items
    if token:
        body["nextPageToken"] = token
    return body
