"""The GCP adapter, driven through the real google-cloud-compute client over HTTP against the
fleet simulator: happy paths, operation waiting, retries and the error classes."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fleetsim.client import FleetSimClient
from fleetsim.process import free_port
from instances import gcp
from instances.gcp.clients import compute_clients

PROJECT = "sourcegraph-managed-acme"
ZONE = "us-central1-f"
VM = "default-red-instance"
DATA_DISK = "default-red-data-disk"
VM_ARGS: dict[str, Any] = {"project": PROJECT, "zone": ZONE, "name": VM}
ROLE = "roles/compute.osAdminLogin"


@pytest.fixture
def acme(fleetsim: FleetSimClient) -> FleetSimClient:
    fleetsim.upsert_instances(
        [
            {
                "slug": "acme",
                "project": PROJECT,
                "zone": ZONE,
                "name": VM,
                "version": "5.3.0",
                "machine_type": "n2-standard-16",
                "internal_ip": "10.0.0.5",
                "external_ip": "34.1.2.3",
                "labels": {"customer": "acme", "kind": "production"},
                "metadata": {"startup-script": "#!/bin/sh\necho hi"},
            }
        ]
    )
    return fleetsim


def test_vm_get_returns_a_plain_dataclass(acme: FleetSimClient) -> None:
    # given the acme VM in the simulator
    # when
    vm = gcp.vm_get(**VM_ARGS)
    # then
    assert vm == gcp.Vm(
        project=PROJECT,
        zone=ZONE,
        name=VM,
        status="RUNNING",
        machine_type="n2-standard-16",
        internal_ip="10.0.0.5",
        external_ip="34.1.2.3",
        metadata={"sourcegraph-version": "5.3.0", "startup-script": "#!/bin/sh\necho hi"},
        metadata_fingerprint=vm.metadata_fingerprint,
        labels={"customer": "acme", "kind": "production"},
        disks=(
            gcp.AttachedDisk(name=VM, boot=True, auto_delete=True, device_name="boot"),
            gcp.AttachedDisk(name=DATA_DISK, boot=False, auto_delete=False, device_name="data"),
        ),
        created_at=vm.created_at,
        gcp_id=vm.gcp_id,
        self_link=f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances/{VM}",
    )
    assert vm.gcp_id.isdigit()
    assert vm.metadata_fingerprint
    assert vm.created_at is not None
    assert vm.created_at.tzinfo is not None
    assert [d.name for d in vm.data_disks] == [DATA_DISK]


def test_vm_get_of_a_missing_vm_raises_not_found(acme: FleetSimClient) -> None:
    # given / when / then
    with pytest.raises(gcp.GcpNotFound) as excinfo:
        gcp.vm_get(project=PROJECT, zone=ZONE, name="default-black-instance")
    assert excinfo.value.status == 404
    assert not excinfo.value.transient


def test_vm_list_applies_the_filter(fleetsim: FleetSimClient) -> None:
    # given two VMs in one project and zone
    fleetsim.upsert_instances(
        [
            {"slug": "red", "project": PROJECT, "name": "default-red-instance"},
            {
                "slug": "black",
                "project": PROJECT,
                "name": "default-black-instance",
                "labels": {"live": "yes"},
            },
        ]
    )
    # when
    everything = gcp.vm_list(project=PROJECT, zone=ZONE)
    live = gcp.vm_list(project=PROJECT, zone=ZONE, filter_expr='labels.live = "yes"')
    # then
    assert sorted(vm.name for vm in everything) == [
        "default-black-instance",
        "default-red-instance",
    ]
    assert [vm.name for vm in live] == ["default-black-instance"]


def test_vm_stop_waits_for_its_operation(acme: FleetSimClient) -> None:
    # given stopping takes a noticeable time
    acme.configure(operation_durations={"compute.instances.stop": 0.6})
    # when
    op = gcp.vm_stop(**VM_ARGS)
    # then the call returned only once the operation was DONE and the VM stopped
    assert op.status == "DONE"
    assert op.operation_type == "stop"
    assert op.zone == ZONE
    assert op.target_link.endswith(f"/instances/{VM}")
    assert gcp.vm_get(**VM_ARGS).status == "TERMINATED"


def test_vm_start_brings_a_stopped_vm_back(acme: FleetSimClient) -> None:
    # given a stopped VM
    gcp.vm_stop(**VM_ARGS)
    # when
    op = gcp.vm_start(**VM_ARGS)
    # then
    assert op.operation_type == "start"
    assert gcp.vm_get(**VM_ARGS).status == "RUNNING"


def test_vm_delete_removes_the_vm_and_its_boot_disk_but_keeps_the_data_disk(
    acme: FleetSimClient,
) -> None:
    # given / when
    gcp.vm_delete(**VM_ARGS)
    # then
    with pytest.raises(gcp.GcpNotFound):
        gcp.vm_get(**VM_ARGS)
    with pytest.raises(gcp.GcpNotFound):
        gcp.disk_get(project=PROJECT, zone=ZONE, name=VM)
    data_disk = gcp.disk_get(project=PROJECT, zone=ZONE, name=DATA_DISK)
    assert data_disk.users == ()


def test_vm_set_metadata_sets_and_removes_keys_and_keeps_the_others(acme: FleetSimClient) -> None:
    # given
    before = gcp.vm_get(**VM_ARGS)
    # when
    op = gcp.vm_set_metadata(
        **VM_ARGS, updates={"sourcegraph-version": "5.4.0"}, remove=["startup-script"]
    )
    # then
    assert op is not None
    assert op.operation_type == "setMetadata"
    after = gcp.vm_get(**VM_ARGS)
    assert after.metadata == {"sourcegraph-version": "5.4.0"}
    assert after.metadata_fingerprint != before.metadata_fingerprint


def test_vm_set_metadata_without_a_change_writes_nothing(acme: FleetSimClient) -> None:
    # given the VM already wants 5.3.0
    # when
    op = gcp.vm_set_metadata(**VM_ARGS, updates={"sourcegraph-version": "5.3.0"})
    # then
    assert op is None
    assert acme.calls("compute.instances.setMetadata") == 0


def test_vm_set_metadata_against_a_concurrent_writer_rereads_and_keeps_both_changes(
    acme: FleetSimClient,
) -> None:
    # given our write is slow to reach GCP, and another writer changes the metadata meanwhile
    acme.set_fault("compute.instances.setMetadata", count=1, latency=1.0)
    with ThreadPoolExecutor(max_workers=1) as pool:
        ours = pool.submit(gcp.vm_set_metadata, **VM_ARGS, updates={"sourcegraph-version": "6.0"})
        deadline = time.monotonic() + 5
        while (
            acme.stats()["methods"].get("compute.instances.setMetadata", {}).get("in_flight", 0) < 1
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        gcp.vm_set_metadata(**VM_ARGS, updates={"banner": "maintenance"})
        # when our stale write lands (GCP answers 412 on the old fingerprint)
        op = ours.result(timeout=10)
    # then the adapter read the metadata again and applied our key on top of theirs
    assert op is not None
    assert acme.calls("compute.instances.setMetadata") == 3
    metadata = gcp.vm_get(**VM_ARGS).metadata
    assert metadata["sourcegraph-version"] == "6.0"
    assert metadata["banner"] == "maintenance"


def test_vm_set_metadata_gives_up_after_a_second_stale_fingerprint(acme: FleetSimClient) -> None:
    # given GCP answers 412 to the write and to its one retry
    acme.set_fault("compute.instances.setMetadata", status=412, count=2)
    # when / then
    with pytest.raises(gcp.GcpConflict) as excinfo:
        gcp.vm_set_metadata(**VM_ARGS, updates={"sourcegraph-version": "6.0"})
    assert excinfo.value.status == 412
    assert acme.calls("compute.instances.setMetadata") == 2
    assert acme.calls("compute.instances.get") == 2
    assert gcp.vm_get(**VM_ARGS).metadata["sourcegraph-version"] == "5.3.0"


def test_disk_snapshot_create_returns_the_ready_snapshot(acme: FleetSimClient) -> None:
    # given / when
    snap = gcp.disk_snapshot_create(
        project=PROJECT,
        zone=ZONE,
        disk=DATA_DISK,
        snapshot="acme-upgrade-5-4-0",
        labels={"kind": "upgrade", "instance": "acme"},
        description="before 5.4.0",
    )
    # then
    assert snap.name == "acme-upgrade-5-4-0"
    assert snap.status == "READY"
    assert snap.source_disk == DATA_DISK
    assert snap.labels == {"kind": "upgrade", "instance": "acme"}
    assert snap.description == "before 5.4.0"
    assert snap.disk_size_gb == 200
    assert snap.created_at is not None
    assert snap.created_at.tzinfo is not None


def test_snapshot_list_filters_by_labels_and_lists_newest_first(acme: FleetSimClient) -> None:
    # given two upgrade snapshots and a weekly one
    for name, kind in [("snap-a", "upgrade"), ("snap-b", "weekly"), ("snap-c", "upgrade")]:
        gcp.disk_snapshot_create(
            project=PROJECT, zone=ZONE, disk=DATA_DISK, snapshot=name, labels={"kind": kind}
        )
    # when
    upgrades = gcp.snapshot_list(project=PROJECT, labels={"kind": "upgrade"})
    by_name = gcp.snapshot_list(project=PROJECT, filter_expr="name eq snap-[ab]")
    everything = gcp.snapshot_list(project=PROJECT)
    # then
    assert [s.name for s in upgrades] == ["snap-c", "snap-a"]
    assert sorted(s.name for s in by_name) == ["snap-a", "snap-b"]
    assert len(everything) == 3


def test_snapshot_delete_removes_the_snapshot(acme: FleetSimClient) -> None:
    # given
    gcp.disk_snapshot_create(project=PROJECT, zone=ZONE, disk=DATA_DISK, snapshot="old")
    # when
    op = gcp.snapshot_delete(project=PROJECT, name="old")
    # then the global operation was waited for
    assert op.zone is None
    assert op.status == "DONE"
    with pytest.raises(gcp.GcpNotFound):
        gcp.snapshot_get(project=PROJECT, name="old")
    assert acme.calls("compute.globalOperations.wait") >= 1


def test_disk_delete_is_refused_while_a_vm_uses_the_disk(acme: FleetSimClient) -> None:
    # given / when / then
    with pytest.raises(gcp.GcpPermanentError) as excinfo:
        gcp.disk_delete(project=PROJECT, zone=ZONE, name=DATA_DISK)
    assert excinfo.value.status == 400
    assert excinfo.value.reason == "resourceInUseByAnotherResource"
    assert gcp.disk_get(project=PROJECT, zone=ZONE, name=DATA_DISK).users == (VM,)


def test_disk_delete_after_the_vm_is_gone(acme: FleetSimClient) -> None:
    # given
    gcp.vm_delete(**VM_ARGS)
    # when
    gcp.disk_delete(project=PROJECT, zone=ZONE, name=DATA_DISK)
    # then
    with pytest.raises(gcp.GcpNotFound):
        gcp.disk_get(project=PROJECT, zone=ZONE, name=DATA_DISK)


def test_iam_binding_with_an_expiry_condition_round_trips(acme: FleetSimClient) -> None:
    # given
    expires = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    # when
    gcp.vm_iam_binding_add(
        **VM_ARGS, role=ROLE, member="user:dev@example.com", expires_at=expires, title="grant-42"
    )
    policy = gcp.vm_iam_policy_get(**VM_ARGS)
    # then
    assert policy.version == 3
    assert policy.etag
    assert policy.bindings == (
        gcp.IamBinding(
            role=ROLE,
            members=("user:dev@example.com",),
            condition=gcp.IamCondition(
                title="grant-42",
                expression='request.time < timestamp("2031-05-06T07:08:09Z")',
            ),
        ),
    )


def test_iam_binding_remove_drops_the_member(acme: FleetSimClient) -> None:
    # given two grants under different conditions
    soon = datetime.now(UTC) + timedelta(hours=1)
    gcp.vm_iam_binding_add(
        **VM_ARGS, role=ROLE, member="user:a@example.com", expires_at=soon, title="grant-1"
    )
    gcp.vm_iam_binding_add(
        **VM_ARGS, role=ROLE, member="user:b@example.com", expires_at=soon, title="grant-2"
    )
    # when
    policy = gcp.vm_iam_binding_remove(
        **VM_ARGS, role=ROLE, member="user:a@example.com", condition_title="grant-1"
    )
    # then
    assert [(b.members, b.condition.title if b.condition else "") for b in policy.bindings] == [
        (("user:b@example.com",), "grant-2")
    ]
    assert gcp.vm_iam_policy_get(**VM_ARGS) == policy


def test_iam_policy_set_with_a_stale_etag_raises_conflict(acme: FleetSimClient) -> None:
    # given a policy read, then changed by someone else
    stale = gcp.vm_iam_policy_get(**VM_ARGS)
    gcp.vm_iam_binding_add(**VM_ARGS, role=ROLE, member="user:other@example.com")
    mine = gcp.policy_with_binding(stale, role=ROLE, member="user:me@example.com")
    # when / then
    with pytest.raises(gcp.GcpConflict) as excinfo:
        gcp.vm_iam_policy_set(**VM_ARGS, policy=mine)
    assert excinfo.value.status == 409
    members = {m for b in gcp.vm_iam_policy_get(**VM_ARGS).bindings for m in b.members}
    assert members == {"user:other@example.com"}


def test_iam_binding_add_reads_again_after_a_stale_etag(acme: FleetSimClient) -> None:
    # given GCP refuses the first write: the policy changed since we read it
    acme.set_fault("compute.instances.setIamPolicy", status=409, reason="aborted", count=1)
    # when
    policy = gcp.vm_iam_binding_add(**VM_ARGS, role=ROLE, member="user:me@example.com")
    # then the adapter read the policy again and wrote once more
    assert [b.members for b in policy.bindings] == [("user:me@example.com",)]
    assert acme.calls("compute.instances.getIamPolicy") == 2
    assert acme.calls("compute.instances.setIamPolicy") == 2


def test_iam_binding_remove_gives_up_after_a_second_stale_etag(acme: FleetSimClient) -> None:
    # given a binding, and GCP refusing the next two writes
    gcp.vm_iam_binding_add(**VM_ARGS, role=ROLE, member="user:me@example.com")
    acme.reset_stats()
    acme.set_fault("compute.instances.setIamPolicy", status=409, reason="aborted", count=2)
    # when / then
    with pytest.raises(gcp.GcpConflict):
        gcp.vm_iam_binding_remove(**VM_ARGS, role=ROLE, member="user:me@example.com")
    assert acme.calls("compute.instances.setIamPolicy") == 2
    members = {m for b in gcp.vm_iam_policy_get(**VM_ARGS).bindings for m in b.members}
    assert members == {"user:me@example.com"}


def test_expiry_condition_refuses_a_naive_datetime() -> None:
    # given
    naive = datetime.now(UTC).replace(tzinfo=None)
    # when / then
    with pytest.raises(ValueError, match="timezone-aware"):
        gcp.expiry_condition(naive)


def test_operation_timeout_raises_transient_timeout_and_operation_wait_finishes_it(
    acme: FleetSimClient, settings
) -> None:
    # given an operation slower than the adapter will wait
    acme.configure(operation_durations={"compute.instances.stop": 1.5})
    settings.GCP_OPERATION_TIMEOUT = 0.4
    # when
    with pytest.raises(gcp.GcpTimeout) as excinfo:
        gcp.vm_stop(**VM_ARGS)
    # then it gave up before the operation ended (the VM is still stopping), naming the
    # operation so a later attempt can wait for it
    assert isinstance(excinfo.value, gcp.GcpTransientError)
    assert excinfo.value.operation
    assert gcp.vm_get(**VM_ARGS).status == "STOPPING"
    op = gcp.operation_wait(
        project=PROJECT, zone=excinfo.value.zone, name=excinfo.value.operation, timeout=10
    )
    assert op.status == "DONE"
    assert gcp.vm_get(**VM_ARGS).status == "TERMINATED"


def test_operation_get_reports_a_running_operation(acme: FleetSimClient, settings) -> None:
    # given a stop still in progress when the adapter stops waiting
    acme.configure(operation_durations={"compute.instances.stop": 1.0})
    settings.GCP_OPERATION_TIMEOUT = 0.2
    with pytest.raises(gcp.GcpTimeout) as excinfo:
        gcp.vm_stop(**VM_ARGS)
    # when
    op = gcp.operation_get(project=PROJECT, zone=ZONE, name=excinfo.value.operation)
    # then
    assert op.status in {"PENDING", "RUNNING"}


def test_operation_ending_in_error_raises_its_error(acme: FleetSimClient) -> None:
    # given GCP accepts the stop but the operation fails
    acme.set_fault(
        "compute.instances.stop", status=403, count=1, in_operation=True, message="no access"
    )
    # when / then
    with pytest.raises(gcp.GcpPermissionDenied, match="no access"):
        gcp.vm_stop(**VM_ARGS)
    assert gcp.vm_get(**VM_ARGS).status == "RUNNING"


def test_operation_ending_in_a_server_error_is_transient(acme: FleetSimClient) -> None:
    # given
    acme.set_fault("compute.disks.createSnapshot", status=503, count=1, in_operation=True)
    # when / then
    with pytest.raises(gcp.GcpTransientError):
        gcp.disk_snapshot_create(project=PROJECT, zone=ZONE, disk=DATA_DISK, snapshot="s1")
    assert gcp.snapshot_list(project=PROJECT) == []


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (403, "RATE_LIMIT_EXCEEDED"),
        (403, "RESOURCE_OPERATION_RATE_EXCEEDED"),
        (400, "RESOURCE_NOT_READY"),
        (429, "RATE_LIMIT_EXCEEDED"),
        (503, "ZONE_RESOURCE_POOL_EXHAUSTED"),
        (403, "QUOTA_EXCEEDED"),
    ],
)
def test_operation_ending_in_an_upper_case_rate_limit_is_transient(
    acme: FleetSimClient, status: int, code: str
) -> None:
    # given GCP accepts the stop, and its operation ends with Compute's upper-case code
    acme.set_fault("compute.instances.stop", status=status, reason=code, count=1, in_operation=True)
    # when / then the task that called it will retry the step later
    with pytest.raises(gcp.GcpTransientError) as excinfo:
        gcp.vm_stop(**VM_ARGS)
    assert excinfo.value.reason == code
    assert excinfo.value.status == status
    assert gcp.vm_get(**VM_ARGS).status == "RUNNING"


def test_operation_ending_in_not_implemented_is_permanent(acme: FleetSimClient) -> None:
    # given
    acme.set_fault("compute.instances.stop", status=501, count=1, in_operation=True)
    # when / then
    with pytest.raises(gcp.GcpPermanentError) as excinfo:
        gcp.vm_stop(**VM_ARGS)
    assert not excinfo.value.transient


def test_starting_a_vm_that_is_still_stopping_is_transient(acme: FleetSimClient, settings) -> None:
    # given a stop still in progress when the adapter stops waiting for it
    acme.configure(operation_durations={"compute.instances.stop": 1.0})
    settings.GCP_OPERATION_TIMEOUT = 0.2
    with pytest.raises(gcp.GcpTimeout):
        gcp.vm_stop(**VM_ARGS)
    # when / then GCP's 400 resourceNotReady means "later", not "never"
    with pytest.raises(gcp.GcpTransientError) as excinfo:
        gcp.vm_start(**VM_ARGS)
    assert excinfo.value.status == 400
    assert excinfo.value.reason == "resourceNotReady"


@pytest.mark.parametrize(
    ("status", "reason", "error_class", "transient"),
    [
        (400, "", gcp.GcpPermanentError, False),
        (403, "", gcp.GcpPermissionDenied, False),
        (404, "", gcp.GcpNotFound, False),
        (409, "", gcp.GcpConflict, False),
        (412, "", gcp.GcpConflict, False),
        (429, "", gcp.GcpTransientError, True),
        (500, "", gcp.GcpTransientError, True),
        (503, "", gcp.GcpTransientError, True),
        (403, "rateLimitExceeded", gcp.GcpTransientError, True),
        (403, "RATE_LIMIT_EXCEEDED", gcp.GcpTransientError, True),
        (403, "RESOURCE_OPERATION_RATE_EXCEEDED", gcp.GcpTransientError, True),
        (400, "resourceNotReady", gcp.GcpTransientError, True),
        (409, "resourceNotReady", gcp.GcpTransientError, True),
        (409, "alreadyExists", gcp.GcpConflict, False),
        (501, "", gcp.GcpPermanentError, False),
        (505, "", gcp.GcpPermanentError, False),
    ],
)
def test_mutation_errors_map_to_classes_and_are_not_retried(
    acme: FleetSimClient,
    status: int,
    reason: str,
    error_class: type[gcp.GcpError],
    transient: bool,
) -> None:
    # given the API refuses the next stop
    acme.set_fault("compute.instances.stop", status=status, reason=reason, count=1)
    # when / then
    with pytest.raises(error_class) as excinfo:
        gcp.vm_stop(**VM_ARGS)
    assert excinfo.value.status == status
    assert excinfo.value.transient is transient
    assert acme.calls("compute.instances.stop") == 1
    assert gcp.vm_get(**VM_ARGS).status == "RUNNING"


def test_read_succeeds_after_two_transient_errors(acme: FleetSimClient) -> None:
    # given the next two gets fail with 503
    acme.set_fault("compute.instances.get", status=503, count=2)
    # when
    vm = gcp.vm_get(**VM_ARGS)
    # then
    assert vm.status == "RUNNING"
    assert acme.calls("compute.instances.get") == 3


def test_read_gives_up_after_the_configured_retries(acme: FleetSimClient, settings) -> None:
    # given
    settings.GCP_READ_RETRIES = 2
    acme.set_fault("compute.instances.getIamPolicy", status=429)
    # when / then
    with pytest.raises(gcp.GcpTransientError) as excinfo:
        gcp.vm_iam_policy_get(**VM_ARGS)
    assert excinfo.value.status == 429
    assert acme.calls("compute.instances.getIamPolicy") == 3


def test_read_retries_an_upper_case_rate_limit_reason(acme: FleetSimClient) -> None:
    # given the next get is refused with 403 and Compute's upper-case reason
    acme.set_fault("compute.instances.get", status=403, reason="RATE_LIMIT_EXCEEDED", count=1)
    # when
    vm = gcp.vm_get(**VM_ARGS)
    # then it was retried
    assert vm.status == "RUNNING"
    assert acme.calls("compute.instances.get") == 2


def test_read_does_not_retry_not_implemented(acme: FleetSimClient) -> None:
    # given
    acme.set_fault("compute.instances.get", status=501, count=5)
    # when / then
    with pytest.raises(gcp.GcpPermanentError) as excinfo:
        gcp.vm_get(**VM_ARGS)
    assert excinfo.value.status == 501
    assert acme.calls("compute.instances.get") == 1


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "default-red-instance", "id": "99999999999999999999999999"}',
        '{"name": "default-red-instance", "labels": "not-a-map"}',
        '{"name": "default-red-\udcffinstance"}',
        "<html>502 Bad Gateway</html>",
    ],
    ids=["number-out-of-range", "labels-not-a-map", "invalid-utf8", "not-json"],
)
def test_an_unreadable_answer_is_a_permanent_bad_response(acme: FleetSimClient, body: str) -> None:
    # given GCP answers 200 with something the client cannot parse
    acme.set_fault("compute.instances.get", body=body)
    # when / then it is an adapter error (not a raw parser error), and not retried
    with pytest.raises(gcp.GcpBadResponse) as excinfo:
        gcp.vm_get(**VM_ARGS)
    assert isinstance(excinfo.value, gcp.GcpPermanentError)
    assert "could not be read" in str(excinfo.value)
    assert acme.calls("compute.instances.get") == 1


def test_an_unparseable_timestamp_is_no_timestamp(fleetsim: FleetSimClient) -> None:
    # given a VM whose creation timestamp GCP answers in no known format
    fleetsim.upsert_instances(
        [
            {
                "slug": "acme",
                "project": PROJECT,
                "name": VM,
                "api_fields": {"creationTimestamp": "last tuesday"},
            }
        ]
    )
    # when
    vm = gcp.vm_get(**VM_ARGS)
    # then the VM is read, without a creation time
    assert vm.created_at is None
    assert vm.status == "RUNNING"


def test_read_does_not_retry_a_permanent_error(acme: FleetSimClient) -> None:
    # given
    acme.set_fault("compute.snapshots.list", status=403, count=5)
    # when / then
    with pytest.raises(gcp.GcpPermissionDenied):
        gcp.snapshot_list(project=PROJECT)
    assert acme.calls("compute.snapshots.list") == 1


def test_request_timeout_is_a_transient_timeout(acme: FleetSimClient, settings) -> None:
    # given a get slower than the request timeout, and no retries
    settings.GCP_REQUEST_TIMEOUT = 0.3
    settings.GCP_READ_RETRIES = 0
    acme.set_fault("compute.instances.get", latency=1.0, count=1)
    # when / then
    with pytest.raises(gcp.GcpTimeout):
        gcp.vm_get(**VM_ARGS)


def test_unreachable_endpoint_is_transient(fleetsim: FleetSimClient, settings) -> None:
    # given nothing listens on the endpoint
    settings.GCP_COMPUTE_ENDPOINT = f"http://127.0.0.1:{free_port()}"
    gcp.clear_client_cache()
    # when / then
    with pytest.raises(gcp.GcpTransientError, match="connection error"):
        gcp.vm_get(**VM_ARGS)


def test_request_id_makes_a_resent_mutation_return_the_same_operation(
    acme: FleetSimClient,
) -> None:
    # given a stop already sent with a request id
    first = gcp.vm_stop(**VM_ARGS, request_id="5e0a1b6c-3f7d-4d2a-9c1e-0b8f7a6d5c4e")
    # when the task resends it after a crash
    again = gcp.vm_stop(**VM_ARGS, request_id="5e0a1b6c-3f7d-4d2a-9c1e-0b8f7a6d5c4e")
    # then
    assert again.name == first.name


def test_any_request_key_is_sent_as_a_stable_uuid(acme: FleetSimClient) -> None:
    # given a task's own key for its step (not a UUID; Compute refuses those with 400)
    key = "operation-42:stop"
    first = gcp.vm_stop(**VM_ARGS, request_id=key)
    # when the step runs again with the same key, and another step with another key
    again = gcp.vm_stop(**VM_ARGS, request_id=key)
    other = gcp.vm_start(**VM_ARGS, request_id="operation-42:start")
    # then the same key was the same UUID to GCP (one operation), another key another one
    assert again.name == first.name
    assert other.name != first.name
    assert first.request_id == gcp.request_id_for(key)
    assert str(uuid.UUID(first.request_id)) == first.request_id
    assert other.request_id == gcp.request_id_for("operation-42:start") != first.request_id


def test_mutations_without_a_key_still_send_a_fresh_uuid(acme: FleetSimClient) -> None:
    # given / when two stops without a key (the second is a no-op on a stopped VM)
    first = gcp.vm_stop(**VM_ARGS)
    second = gcp.vm_stop(**VM_ARGS)
    # then each carried its own UUID (Compute echoes it as clientOperationId)
    assert first.name != second.name
    assert uuid.UUID(first.request_id) != uuid.UUID(second.request_id)


def test_extended_operation_result_polls_the_configured_endpoint(acme: FleetSimClient) -> None:
    # given the cached clients, whose transports were pre-filled with operations clients
    instances = compute_clients().instances
    # when google-api-core's ExtendedOperation polls until DONE
    operation = instances.stop(project=PROJECT, zone=ZONE, instance=VM)
    operation.result(timeout=10)
    # then it polled the simulator, not compute.googleapis.com
    assert operation.done()
    assert acme.calls("compute.zoneOperations.get") >= 1
    assert gcp.vm_get(**VM_ARGS).status == "TERMINATED"
