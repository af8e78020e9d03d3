"""The fleet simulator over real HTTP: health coupling, operations, faults, stats, persistence."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from fleetsim.client import FleetSimClient, FleetSimError
from fleetsim.process import running_fleetsim

PROJECT = "sourcegraph-managed-acme"
ZONE = "us-central1-f"
VM = "default-red-instance"
API = f"/compute/v1/projects/{PROJECT}/zones/{ZONE}"
VM_PATH = f"{API}/instances/{VM}"


@pytest.fixture
def acme(fleetsim: FleetSimClient) -> FleetSimClient:
    fleetsim.upsert_instances([{"slug": "acme", "project": PROJECT, "version": "5.3.0"}])
    return fleetsim


@pytest.fixture
def http(fleetsim: FleetSimClient) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fleetsim.base_url, timeout=10) as client:
        yield client


def _wait(http: httpx.Client, op: dict[str, Any]) -> dict[str, Any]:
    scope = (
        f"{API}/operations" if "zone" in op else f"/compute/v1/projects/{PROJECT}/global/operations"
    )
    response = http.post(f"{scope}/{op['name']}/wait")
    assert response.status_code == 200
    done: dict[str, Any] = response.json()
    assert done["status"] == "DONE"
    return done


def _poll(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait (bounded) until ``condition`` holds: on the simulator's state, not a guessed time."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"condition not met within {seconds} s"
        time.sleep(0.05)


def _set_version(http: httpx.Client, version: str) -> dict[str, Any]:
    vm = http.get(VM_PATH).json()
    items = [i for i in vm["metadata"]["items"] if i["key"] != "sourcegraph-version"]
    items.append({"key": "sourcegraph-version", "value": version})
    body = {"fingerprint": vm["metadata"]["fingerprint"], "items": items}
    response = http.post(f"{VM_PATH}/setMetadata", json=body)
    assert response.status_code == 200
    return _wait(http, response.json())


def test_healthz_and_version_report_the_running_version(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given / when
    health = http.get("/i/acme/healthz")
    version = http.get("/i/acme/__version")
    # then
    assert (health.status_code, health.text) == (200, "5.3.0")
    assert (version.status_code, version.text) == (200, "5.3.0")


def test_a_stopped_vm_fails_its_health_check_quickly(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given
    _wait(http, http.post(f"{VM_PATH}/stop").json())
    # when
    health = http.get("/i/acme/healthz")
    # then
    assert health.status_code == 503
    assert http.get("/i/acme/__version").status_code == 503
    assert http.get(VM_PATH).json()["status"] == "TERMINATED"


def test_a_started_vm_answers_again(acme: FleetSimClient, http: httpx.Client) -> None:
    # given a stopped VM
    _wait(http, http.post(f"{VM_PATH}/stop").json())
    # when
    _wait(http, http.post(f"{VM_PATH}/start").json())
    # then
    assert http.get("/i/acme/healthz").status_code == 200


def test_a_deleted_vm_answers_502_and_an_unknown_slug_404(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given
    _wait(http, http.delete(VM_PATH).json())
    # when / then
    assert http.get("/i/acme/healthz").status_code == 502
    assert http.get("/i/nobody/healthz").status_code == 404
    assert http.get(VM_PATH).status_code == 404


def test_new_version_metadata_shows_only_after_the_reconcile_delay(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given a reconcile that takes 1 s
    acme.set_health("acme", reconcile_delay=1.0)
    # when
    _set_version(http, "5.4.0")
    # then during the reconcile the old version is served and health fails
    assert http.get("/i/acme/__version").text == "5.3.0"
    assert http.get("/i/acme/healthz").status_code == 503
    assert acme.get_instance("acme")["reconciling_to"] == "5.4.0"
    # and once the reconcile is over, the new version is served, healthy
    _poll(lambda: http.get("/i/acme/__version").text == "5.4.0")
    health = http.get("/i/acme/healthz")
    assert (health.status_code, health.text) == (200, "5.4.0")


def test_never_healthy_fails_health_forever_after_the_next_upgrade(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given
    acme.set_health("acme", "never_healthy", reconcile_delay=0.2)
    assert http.get("/i/acme/healthz").status_code == 200
    # when
    _set_version(http, "5.4.0")
    # then the new version comes up but unhealthy, until the mode is reset
    _poll(lambda: http.get("/i/acme/__version").text == "5.4.0")
    assert http.get("/i/acme/healthz").status_code == 500
    acme.set_health("acme", "ok")
    assert http.get("/i/acme/healthz").status_code == 200


def test_a_bad_release_is_unhealthy_until_the_previous_version_is_set_back(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given an instance whose next release is bad
    acme.set_health("acme", "bad_release", reconcile_delay=0.2)
    # when it lands
    _set_version(http, "5.4.0")
    _poll(lambda: http.get("/i/acme/__version").text == "5.4.0")
    # then it fails its health check
    assert http.get("/i/acme/healthz").status_code == 500
    assert acme.get_instance("acme")["health"]["broken"]
    # when the previous version is set back, it comes back healthy on it
    _set_version(http, "5.3.0")
    _poll(lambda: http.get("/i/acme/healthz").status_code == 200)
    assert http.get("/i/acme/__version").text == "5.3.0"


def test_setting_the_running_version_back_cancels_a_pending_deploy(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given a deploy that would take an hour
    acme.set_health("acme", reconcile_delay=3600)
    _set_version(http, "5.4.0")
    assert http.get("/i/acme/healthz").status_code == 503
    # when the running version is set back
    _set_version(http, "5.3.0")
    # then the deploy is dropped and the old version serves, healthy
    assert acme.get_instance("acme")["reconciling_to"] is None
    assert http.get("/i/acme/healthz").status_code == 200


def test_stats_report_the_peak_of_vms_deploying_at_once(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given a second VM, and deploys that take a minute
    acme.upsert_instances([{"slug": "beta", "version": "5.3.0", "reconcile_delay": 60}])
    acme.set_health("acme", reconcile_delay=60)
    acme.reset_stats()
    # when both are given a new version
    _set_version(http, "5.4.0")
    beta = acme.get_instance("beta")
    path = f"/compute/v1/projects/{beta['project']}/zones/{beta['zone']}/instances/{beta['name']}"
    vm = http.get(path).json()
    item = {"key": "sourcegraph-version", "value": "5.4.0"}
    body = {"fingerprint": vm["metadata"]["fingerprint"], "items": [item]}
    assert http.post(f"{path}/setMetadata", json=body).status_code == 200
    # then two were deploying at once (the second deploy begins when its operation is done)
    _poll(lambda: acme.peak_deploys() == 2)
    assert acme.peak_deploys() == 2


@pytest.mark.parametrize(
    ("mode", "extra", "status", "min_seconds"),
    [
        ("error", {}, 500, 0.0),
        ("slow", {"latency": 0.4}, 200, 0.4),
        ("hang", {"hang_seconds": 0.4}, 504, 0.4),
    ],
)
def test_health_modes(
    acme: FleetSimClient,
    http: httpx.Client,
    mode: str,
    extra: dict[str, Any],
    status: int,
    min_seconds: float,
) -> None:
    # given
    acme.set_health("acme", mode, **extra)
    # when
    started = time.monotonic()
    response = http.get("/i/acme/healthz")
    # then
    assert response.status_code == status
    assert time.monotonic() - started >= min_seconds


def test_operations_finish_after_their_configured_duration(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given
    acme.configure(operation_durations={"compute.instances.stop": 0.5})
    # when
    op = http.post(f"{VM_PATH}/stop").json()
    # then
    assert op["kind"] == "compute#operation"
    assert op["operationType"] == "stop"
    assert op["targetLink"].endswith(VM_PATH)
    assert http.get(f"{API}/operations/{op['name']}").json()["status"] != "DONE"
    assert http.get(VM_PATH).json()["status"] == "STOPPING"
    done = _wait(http, op)
    assert "error" not in done
    assert http.get(VM_PATH).json()["status"] == "TERMINATED"


def test_stale_metadata_fingerprint_is_412_condition_not_met(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given
    stale = http.get(VM_PATH).json()["metadata"]["fingerprint"]
    _set_version(http, "5.4.0")
    # when
    response = http.post(f"{VM_PATH}/setMetadata", json={"fingerprint": stale, "items": []})
    # then
    assert response.status_code == 412
    error = response.json()["error"]
    assert error["code"] == 412
    assert error["errors"][0]["reason"] == "conditionNotMet"
    assert error["errors"][0]["domain"] == "global"


def test_counted_fault_fails_the_next_calls_then_clears(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given
    acme.set_fault("compute.instances.get", status=503, count=2)
    # when
    statuses = [http.get(VM_PATH).status_code for _ in range(3)]
    # then
    assert statuses == [503, 503, 200]
    assert acme.faults() == []
    assert acme.stats()["methods"]["compute.instances.get"]["errors"] == 2


def test_probability_fault_and_error_shape(acme: FleetSimClient, http: httpx.Client) -> None:
    # given a fault on every call of every instances method
    acme.set_fault("compute.instances.*", status=429, probability=1.0, message="slow down")
    # when
    response = http.get(VM_PATH)
    # then
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "code": 429,
            "message": "slow down",
            "errors": [{"message": "slow down", "domain": "global", "reason": "rateLimitExceeded"}],
        }
    }
    acme.clear_faults("compute.instances.*")
    assert http.get(VM_PATH).status_code == 200


def test_fault_in_operation_fails_the_operation_and_changes_nothing(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given
    acme.set_fault("compute.instances.stop", status=500, count=1, in_operation=True)
    # when
    response = http.post(f"{VM_PATH}/stop")
    done = _wait(http, response.json())
    # then
    assert response.status_code == 200
    assert done["httpErrorStatusCode"] == 500
    assert done["error"]["errors"][0]["code"] == "INTERNAL_ERROR"
    assert http.get(VM_PATH).json()["status"] == "RUNNING"


def test_request_id_returns_the_earlier_operation(acme: FleetSimClient, http: httpx.Client) -> None:
    # given
    request_id = "5e0a1b6c-3f7d-4d2a-9c1e-0b8f7a6d5c4e"
    first = http.post(f"{VM_PATH}/stop", params={"requestId": request_id}).json()
    # when the same request is resent (upper-case hex is the same UUID)
    again = http.post(f"{VM_PATH}/stop", params={"requestId": request_id.upper()}).json()
    # then
    assert again["name"] == first["name"]
    assert first["clientOperationId"] == request_id
    assert acme.calls("compute.instances.stop") == 2


@pytest.mark.parametrize(
    "request_id",
    ["r-1", "00000000-0000-0000-0000-000000000000", "5e0a1b6c3f7d4d2a9c1e0b8f7a6d5c4e"],
    ids=["not-a-uuid", "zero-uuid", "no-hyphens"],
)
def test_request_id_must_be_a_uuid(
    acme: FleetSimClient, http: httpx.Client, request_id: str
) -> None:
    # given / when a mutation carries a request id that is not a (non-zero) UUID
    response = http.post(f"{VM_PATH}/stop", params={"requestId": request_id})
    # then Compute refuses it, and nothing changed
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["errors"][0]["reason"] == "invalid"
    assert "requestId" in error["message"]
    assert http.get(VM_PATH).json()["status"] == "RUNNING"


def test_set_iam_policy_refuses_the_deprecated_flattened_body(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given a policy with one binding
    binding = {"role": "roles/viewer", "members": ["user:dev@example.com"]}
    wrapped = http.post(f"{VM_PATH}/setIamPolicy", json={"policy": {"bindings": [binding]}})
    assert wrapped.status_code == 200
    etag = wrapped.json()["etag"]
    # when the bindings come at the top level (ZoneSetPolicyRequest's deprecated fields),
    # alone or next to a policy
    flat = http.post(f"{VM_PATH}/setIamPolicy", json={"bindings": [], "etag": etag})
    mixed = http.post(
        f"{VM_PATH}/setIamPolicy",
        json={"policy": {"bindings": [], "etag": etag}, "bindings": [binding]},
    )
    # then both are refused and the policy is untouched (not wiped)
    assert flat.status_code == 400
    assert mixed.status_code == 400
    assert "policy" in flat.json()["error"]["message"]
    policy = http.get(f"{VM_PATH}/getIamPolicy").json()
    assert policy["bindings"] == [binding]
    assert policy["etag"] == etag


def test_fault_in_operation_with_a_reason_uses_it_as_the_error_code(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given
    acme.set_fault(
        "compute.instances.stop",
        status=403,
        reason="RATE_LIMIT_EXCEEDED",
        count=1,
        in_operation=True,
    )
    # when
    done = _wait(http, http.post(f"{VM_PATH}/stop").json())
    # then
    assert done["httpErrorStatusCode"] == 403
    assert done["error"]["errors"][0]["code"] == "RATE_LIMIT_EXCEEDED"


def test_fault_body_answers_raw_bytes(acme: FleetSimClient, http: httpx.Client) -> None:
    # given an answer with a byte that is not UTF-8 (a lone surrogate stands for it)
    acme.set_fault("compute.instances.get", count=1, body='{"name": "a\udcffb"}')
    # when
    response = http.get(VM_PATH)
    # then
    assert response.status_code == 200
    assert response.content == b'{"name": "a\xffb"}'
    assert http.get(VM_PATH).json()["name"] == VM


def test_api_fields_override_what_the_api_answers_for_a_vm(
    fleetsim: FleetSimClient, http: httpx.Client
) -> None:
    # given a VM whose API answer carries a status and a timestamp GCP never documented
    fleetsim.upsert_instances(
        [
            {
                "slug": "acme",
                "project": PROJECT,
                "api_fields": {"status": "DEFROSTING", "creationTimestamp": "yesterday"},
            }
        ]
    )
    # when
    vm = http.get(VM_PATH).json()
    listed = http.get(f"{API}/instances").json()["items"][0]
    # then the API answers the overrides; the simulated VM itself still runs
    assert (vm["status"], vm["creationTimestamp"]) == ("DEFROSTING", "yesterday")
    assert listed["status"] == "DEFROSTING"
    assert fleetsim.get_instance("acme")["status"] == "RUNNING"
    assert http.get("/i/acme/healthz").status_code == 200


def test_disk_in_use_cannot_be_deleted(acme: FleetSimClient, http: httpx.Client) -> None:
    # given / when
    response = http.delete(f"{API}/disks/default-red-data-disk")
    # then
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["reason"] == "resourceInUseByAnotherResource"


def test_snapshots_are_created_filtered_and_deleted(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given
    for name, kind in [("weekly-1", "weekly"), ("upgrade-1", "upgrade")]:
        body = {"name": name, "labels": {"kind": kind}}
        op = http.post(f"{API}/disks/default-red-data-disk/createSnapshot", json=body).json()
        assert op["operationType"] == "createSnapshot"
        _wait(http, op)
    snapshots = f"/compute/v1/projects/{PROJECT}/global/snapshots"
    # when
    upgrades = http.get(snapshots, params={"filter": 'labels.kind = "upgrade"'}).json()
    by_regex = http.get(snapshots, params={"filter": "name eq weekly-.*"}).json()
    bad = http.get(snapshots, params={"filter": "name ="})
    deleted = _wait(http, http.delete(f"{snapshots}/weekly-1").json())
    # then
    assert [s["name"] for s in upgrades["items"]] == ["upgrade-1"]
    assert upgrades["items"][0]["sourceDisk"].endswith("/disks/default-red-data-disk")
    assert upgrades["items"][0]["status"] == "READY"
    assert [s["name"] for s in by_regex["items"]] == ["weekly-1"]
    assert bad.status_code == 400
    assert "zone" not in deleted
    assert http.get(f"{snapshots}/weekly-1").status_code == 404


def test_iam_policy_for_an_old_version_folds_conditions(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given a conditional binding
    binding = {
        "role": "roles/compute.osAdminLogin",
        "members": ["user:dev@example.com"],
        "condition": {
            "title": "t",
            "expression": 'request.time < timestamp("2031-01-01T00:00:00Z")',
        },
    }
    policy = {"version": 3, "bindings": [binding]}
    response = http.post(f"{VM_PATH}/setIamPolicy", json={"policy": policy})
    assert response.status_code == 200
    # when
    v1 = http.get(f"{VM_PATH}/getIamPolicy", params={"optionsRequestedPolicyVersion": 1}).json()
    v3 = http.get(f"{VM_PATH}/getIamPolicy", params={"optionsRequestedPolicyVersion": 3}).json()
    # then
    assert v1["version"] == 1
    assert v1["bindings"][0]["role"].startswith("roles/compute.osAdminLogin_withcond_")
    assert v3["bindings"] == [binding]
    assert v3["etag"] == response.json()["etag"]


def test_conditional_binding_needs_policy_version_3(
    acme: FleetSimClient, http: httpx.Client
) -> None:
    # given
    binding = {
        "role": "roles/viewer",
        "members": ["user:dev@example.com"],
        "condition": {
            "title": "t",
            "expression": 'request.time < timestamp("2031-01-01T00:00:00Z")',
        },
    }
    # when
    response = http.post(
        f"{VM_PATH}/setIamPolicy", json={"policy": {"version": 1, "bindings": [binding]}}
    )
    # then
    assert response.status_code == 400


def test_stats_count_calls_and_peak_concurrency(acme: FleetSimClient) -> None:
    # given a slow frontend
    acme.set_health("acme", "slow", latency=0.5)
    acme.reset_stats()

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=acme.base_url, limits=limits, timeout=10) as client:
            responses = await asyncio.gather(*(client.get("/i/acme/healthz") for _ in range(25)))
        return [r.status_code for r in responses]

    # when 25 health checks overlap
    statuses = asyncio.run(burst())
    # then
    stats = acme.stats()
    assert statuses == [200] * 25
    assert stats["methods"]["frontend.healthz"]["calls"] == 25
    assert stats["methods"]["frontend.healthz"]["peak_concurrency"] == 25
    assert stats["health_by_slug"] == {"acme": 25}
    acme.reset_stats()
    assert acme.stats()["methods"] == {}


async def _raw_get(host: str, port: int, path: str) -> int:
    # Plain asyncio streams: httpx's async pool itself needs ~20 s to juggle 1000 connections.
    # 600 keeps this process under a default 1024 open-files limit.
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


def test_hundreds_of_slow_requests_run_concurrently(acme: FleetSimClient) -> None:
    # given every health check takes 1 s
    acme.set_health("acme", "slow", latency=1.0)
    url = httpx.URL(acme.base_url)

    async def burst() -> list[int]:
        requests = (_raw_get(url.host, url.port or 80, "/i/acme/healthz") for _ in range(600))
        return list(await asyncio.gather(*requests))

    # when
    statuses = asyncio.run(burst())
    # then they overlapped instead of queueing behind each other
    assert statuses == [200] * 600
    assert acme.peak_concurrency("frontend.healthz") >= 300


def test_control_api_rejects_bad_input(fleetsim: FleetSimClient) -> None:
    # given / when / then
    with pytest.raises(FleetSimError, match="invalid slug"):
        fleetsim.upsert_instances([{"slug": "Not A Slug"}])
    with pytest.raises(FleetSimError, match="health_mode"):
        fleetsim.upsert_instances([{"slug": "ok", "health_mode": "sometimes"}])
    with pytest.raises(FleetSimError, match="status"):
        fleetsim.set_fault("compute.instances.get", status=200)
    with pytest.raises(FleetSimError) as excinfo:
        fleetsim.get_instance("missing")
    assert excinfo.value.status == 404


def test_upsert_replaces_an_instance_and_delete_forgets_it(fleetsim: FleetSimClient) -> None:
    # given
    fleetsim.upsert_instances([{"slug": "acme", "version": "5.3.0"}])
    # when
    [view] = fleetsim.upsert_instances(
        [{"slug": "acme", "version": "5.4.0", "status": "TERMINATED"}]
    )
    # then
    assert (view["version"], view["status"]) == ("5.4.0", "TERMINATED")
    assert view["url"] == fleetsim.instance_url("acme")
    assert [i["slug"] for i in fleetsim.list_instances()] == ["acme"]
    fleetsim.delete_instance("acme")
    assert fleetsim.list_instances() == []


def test_state_file_keeps_the_fleet_across_restarts(tmp_path) -> None:
    # given a simulator with a state file and a seeded, stopped instance
    state = tmp_path / "fleetsim.json"
    with running_fleetsim(state_file=state) as sim:
        sim.client.upsert_instances([{"slug": "acme", "version": "5.3.0", "labels": {"a": "b"}}])
        sim.client.set_health("acme", "slow", latency=0.1)
    # when it restarts
    with running_fleetsim(state_file=state) as sim:
        view = sim.client.get_instance("acme")
    # then
    assert view["version"] == "5.3.0"
    assert view["labels"] == {"a": "b"}
    assert view["health"]["mode"] == "slow"
