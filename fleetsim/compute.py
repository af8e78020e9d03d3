"""Compute Engine REST API v1 routes: the paths google-cloud-compute's REST transport calls.

Covered: instances get/list/stop/start/delete/setMetadata/getIamPolicy/setIamPolicy,
disks get/delete/createSnapshot, global snapshots get/list/delete, zone and global
operations get/wait. Mutations answer an Operation whose effect lands when it is DONE
(stop: RUNNING → STOPPING → TERMINATED; start: → STAGING → RUNNING; deletes: resource gone).
``setMetadata`` is the exception: its fingerprint check and new items apply at once (so two
writers racing on one fingerprint cannot both win), while the agent on the VM only starts
reconciling a new ``sourcegraph-version`` once the operation is DONE.
A ``requestId`` seen before returns the earlier operation, as GCP de-duplicates retries;
it must be a UUID other than the zero UUID (anything else is a 400, as Compute answers), and
the operation echoes it as ``clientOperationId``. ``setIamPolicy`` takes the policy wrapped
in ``{"policy": {...}}`` (ZoneSetPolicyRequest); the deprecated flattened ``bindings`` /
``etag`` at the top level are refused with 400 rather than read as an empty policy.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetsim.errors import ApiError
from fleetsim.filters import compile_filter
from fleetsim.iam import policy_json, set_policy
from fleetsim.operations import Failure, Operation
from fleetsim.render import disk_json, instance_json, list_json, snapshot_json
from fleetsim.sim import Simulator
from fleetsim.state import Snapshot, check_name, now_rfc3339

METADATA_KEY_RE = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
REQUEST_ID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE
)
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
METADATA_MAX_BYTES = 512 * 1024


@dataclass
class Call:
    """One API call as a handler sees it."""

    sim: Simulator
    method: str
    request: Request
    failure: Failure | None

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def request_id(self) -> str:
        """The mutation's ``requestId`` (lower-case), "" if none; 400 unless a non-zero UUID."""
        value = self.query("requestId")
        if not value:
            return ""
        if not REQUEST_ID_RE.match(value) or value == ZERO_UUID:
            raise ApiError(
                400,
                f"Invalid value for field 'requestId': '{value}'. The request ID must be a "
                f"valid UUID with the exception that zero UUID is not supported ({ZERO_UUID}).",
                "invalid",
            )
        return value.lower()

    async def body(self) -> dict[str, Any]:
        raw = await self.request.body()
        if not raw:
            return {}
        try:
            data = await self.request.json()
        except ValueError as exc:
            raise ApiError(400, f"Invalid JSON payload received. {exc}", "parseError") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "Invalid JSON payload received.", "parseError")
        return data

    def start_op(
        self,
        *,
        zone: str | None,
        operation_type: str,
        target_link: str,
        target_id: int,
        effect: Callable[[], None] | None,
    ) -> dict[str, Any]:
        failure, self.failure = self.failure, None
        op = self.sim.ops.start(
            project=self.path("project"),
            zone=zone,
            operation_type=operation_type,
            target_link=target_link,
            target_id=target_id,
            duration=self.sim.store.config.duration_for(self.method),
            effect=effect,
            failure=failure,
            request_id=self.request_id(),
        )
        self.sim.changed()
        return op.to_api()

    @property
    def will_fail(self) -> bool:
        """An injected failure is pending: the operation must change nothing."""
        return self.failure is not None

    def replayed(self) -> dict[str, Any] | None:
        op = self.sim.ops.replay(self.path("project"), self.request_id())
        return op.to_api() if op is not None else None


Handler = Callable[[Call], Awaitable[dict[str, Any]]]


def api(method: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with stats, fault injection and Google-shaped error answers."""

    async def endpoint(request: Request) -> Response:
        sim: Simulator = request.app.state.sim
        with sim.stats.track(method):
            try:
                rule = sim.faults.take(method)
                failure = None
                if rule is not None:
                    if rule.latency > 0:
                        await asyncio.sleep(rule.latency)
                    if rule.body is not None:
                        # Whatever GCP might answer, byte for byte (surrogates = raw bytes).
                        raw = rule.body.encode("utf-8", "surrogateescape")
                        return Response(
                            raw, status_code=rule.status or 200, media_type="application/json"
                        )
                    if rule.status and rule.in_operation:
                        message = rule.message or "Injected failure."
                        failure = Failure(rule.status, message, rule.reason)
                    elif rule.status:
                        raise ApiError(rule.status, rule.message, rule.reason)
                call = Call(sim=sim, method=method, request=request, failure=failure)
                body = await handler(call)
                if call.failure is not None:
                    # A read has no operation to fail: the injected error is its answer.
                    raise ApiError(call.failure.status, call.failure.message)
                return JSONResponse(body)
            except ApiError as exc:
                sim.stats.error(method)
                return JSONResponse(exc.body(), status_code=exc.status)

    return endpoint


def _page(call: Call, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    predicate = compile_filter(call.query("filter"))
    items = [item for item in items if predicate(item)]
    order = call.query("orderBy").split()
    if order:
        field_name = order[0]
        items.sort(
            key=lambda i: str(i.get(field_name, "")),
            reverse=len(order) > 1 and order[1].lower() == "desc",
        )
    try:
        size = int(call.query("maxResults", "500"))
        start = int(call.query("pageToken", "0") or "0")
    except ValueError as exc:
        raise ApiError(400, "Invalid maxResults or pageToken.", "invalid") from exc
    size = max(1, min(size, 500))
    page = items[start : start + size]
    token = str(start + size) if start + size < len(items) else ""
    return page, token


# --- instances -----------------------------------------------------------------------------


async def instances_get(call: Call) -> dict[str, Any]:
    inst = call.sim.store.instance(call.path("project"), call.path("zone"), call.path("instance"))
    return instance_json(inst)


async def instances_list(call: Call) -> dict[str, Any]:
    project, zone = call.path("project"), call.path("zone")
    items = [
        instance_json(i)
        for i in call.sim.store.instances.values()
        if i.project == project and i.zone == zone
    ]
    page, token = _page(call, items)
    link = f"projects/{project}/zones/{zone}/instances"
    return list_json("compute#instanceList", link, page, token)


async def instances_stop(call: Call) -> dict[str, Any]:
    if (replay := call.replayed()) is not None:
        return replay
    inst = call.sim.store.instance(call.path("project"), call.path("zone"), call.path("instance"))
    if inst.status == "RUNNING" and not call.will_fail:
        inst.status = "STOPPING"

    def effect() -> None:
        if inst.status in ("STOPPING", "RUNNING"):
            inst.status = "TERMINATED"
            inst.last_stop_timestamp = now_rfc3339()

    return call.start_op(
        zone=inst.zone,
        operation_type="stop",
        target_link=inst.self_link,
        target_id=inst.id,
        effect=effect,
    )


async def instances_start(call: Call) -> dict[str, Any]:
    if (replay := call.replayed()) is not None:
        return replay
    sim = call.sim
    inst = sim.store.instance(call.path("project"), call.path("zone"), call.path("instance"))
    if inst.status in ("STOPPING", "SUSPENDING"):
        raise ApiError(
            400,
            f"The resource '{inst.path}' is not ready",
            "resourceNotReady",
        )
    if inst.status == "TERMINATED" and not call.will_fail:
        inst.status = "STAGING"

    def effect() -> None:
        if inst.status in ("STAGING", "TERMINATED"):
            inst.status = "RUNNING"
            inst.last_start_timestamp = now_rfc3339()
            inst.begin_reconcile_if_needed(sim.now(), sim.store.config.reconcile_delay)

    return call.start_op(
        zone=inst.zone,
        operation_type="start",
        target_link=inst.self_link,
        target_id=inst.id,
        effect=effect,
    )


async def instances_delete(call: Call) -> dict[str, Any]:
    if (replay := call.replayed()) is not None:
        return replay
    store = call.sim.store
    inst = store.instance(call.path("project"), call.path("zone"), call.path("instance"))
    if not call.will_fail:
        inst.status = "STOPPING"
    return call.start_op(
        zone=inst.zone,
        operation_type="delete",
        target_link=inst.self_link,
        target_id=inst.id,
        effect=lambda: store.remove_instance(inst),
    )


def _metadata_items(body: dict[str, Any]) -> dict[str, str]:
    items: dict[str, str] = {}
    size = 0
    for item in body.get("items", []) or []:
        key = str(item.get("key", ""))
        value = str(item.get("value", ""))
        if not METADATA_KEY_RE.match(key):
            raise ApiError(400, f"Invalid value for field 'metadata.items.key': '{key}'.")
        if key in items:
            raise ApiError(400, f"Duplicate metadata key '{key}'.", "invalid")
        items[key] = value
        size += len(key) + len(value.encode())
    if size > METADATA_MAX_BYTES:
        raise ApiError(400, "Metadata is larger than 512 KB.", "invalid")
    return items


async def instances_set_metadata(call: Call) -> dict[str, Any]:
    if (replay := call.replayed()) is not None:
        return replay
    sim = call.sim
    inst = sim.store.instance(call.path("project"), call.path("zone"), call.path("instance"))
    body = await call.body()
    if body.get("fingerprint", "") != inst.metadata_fingerprint:
        raise ApiError(
            412,
            "Supplied fingerprint does not match current metadata fingerprint.",
            "conditionNotMet",
        )
    items = _metadata_items(body)
    if not call.will_fail:
        inst.set_metadata(items)

    def effect() -> None:
        inst.begin_reconcile_if_needed(sim.now(), sim.store.config.reconcile_delay)
        sim.note_deploys()

    return call.start_op(
        zone=inst.zone,
        operation_type="setMetadata",
        target_link=inst.self_link,
        target_id=inst.id,
        effect=effect,
    )


async def instances_get_iam_policy(call: Call) -> dict[str, Any]:
    inst = call.sim.store.instance(call.path("project"), call.path("zone"), call.path("resource"))
    try:
        requested = int(call.query("optionsRequestedPolicyVersion", "0") or "0")
    except ValueError as exc:
        raise ApiError(400, "Invalid optionsRequestedPolicyVersion.", "invalid") from exc
    return policy_json(inst.iam, requested)


async def instances_set_iam_policy(call: Call) -> dict[str, Any]:
    inst = call.sim.store.instance(call.path("project"), call.path("zone"), call.path("resource"))
    body = await call.body()
    flattened = sorted({"bindings", "etag"} & set(body))
    if flattened or not isinstance(body.get("policy"), dict):
        fields = ", ".join(f"'{name}'" for name in flattened) or "no 'policy'"
        raise ApiError(
            400,
            f"Invalid JSON payload: the policy goes in 'policy' (got {fields}); the "
            "flattened 'bindings' and 'etag' of ZoneSetPolicyRequest are deprecated.",
            "invalid",
        )
    new_policy = set_policy(inst.iam, body)
    inst.iam = new_policy
    call.sim.changed()
    return policy_json(new_policy, 3)


# --- disks and snapshots -------------------------------------------------------------------


async def disks_get(call: Call) -> dict[str, Any]:
    store = call.sim.store
    disk = store.disk(call.path("project"), call.path("zone"), call.path("disk"))
    return disk_json(store, disk)


async def disks_delete(call: Call) -> dict[str, Any]:
    if (replay := call.replayed()) is not None:
        return replay
    store = call.sim.store
    disk = store.disk(call.path("project"), call.path("zone"), call.path("disk"))
    users = store.disk_users(disk)
    if users:
        raise ApiError(
            400,
            f"The disk resource '{disk.path}' is already being used by '{users[0].path}'",
            "resourceInUseByAnotherResource",
        )
    if not call.will_fail:
        disk.status = "DELETING"

    def effect() -> None:
        store.disks.pop((disk.project, disk.zone, disk.name), None)

    return call.start_op(
        zone=disk.zone,
        operation_type="delete",
        target_link=disk.self_link,
        target_id=disk.id,
        effect=effect,
    )


async def disks_create_snapshot(call: Call) -> dict[str, Any]:
    if (replay := call.replayed()) is not None:
        return replay
    store = call.sim.store
    disk = store.disk(call.path("project"), call.path("zone"), call.path("disk"))
    body = await call.body()
    name = str(body.get("name", ""))
    check_name("snapshot", name)
    if (disk.project, name) in store.snapshots:
        raise ApiError(
            409,
            f"The resource 'projects/{disk.project}/global/snapshots/{name}' already exists",
            "alreadyExists",
        )
    snap = Snapshot(
        project=disk.project,
        name=name,
        source_disk=disk.self_link,
        source_disk_id=disk.id,
        disk_size_gb=disk.size_gb,
        labels={str(k): str(v) for k, v in (body.get("labels") or {}).items()},
        description=str(body.get("description", "")),
    )
    if not call.will_fail:
        store.snapshots[(snap.project, snap.name)] = snap

    def effect() -> None:
        snap.status = "READY"

    return call.start_op(
        zone=disk.zone,
        operation_type="createSnapshot",
        target_link=disk.self_link,
        target_id=disk.id,
        effect=effect,
    )


async def snapshots_get(call: Call) -> dict[str, Any]:
    return snapshot_json(call.sim.store.snapshot(call.path("project"), call.path("snapshot")))


async def snapshots_list(call: Call) -> dict[str, Any]:
    project = call.path("project")
    items = [snapshot_json(s) for s in call.sim.store.snapshots.values() if s.project == project]
    page, token = _page(call, items)
    link = f"projects/{project}/global/snapshots"
    return list_json("compute#snapshotList", link, page, token)


async def snapshots_delete(call: Call) -> dict[str, Any]:
    if (replay := call.replayed()) is not None:
        return replay
    store = call.sim.store
    snap = store.snapshot(call.path("project"), call.path("snapshot"))
    if not call.will_fail:
        snap.status = "DELETING"

    def effect() -> None:
        store.snapshots.pop((snap.project, snap.name), None)

    return call.start_op(
        zone=None,
        operation_type="delete",
        target_link=snap.self_link,
        target_id=snap.id,
        effect=effect,
    )


# --- operations ----------------------------------------------------------------------------


def _operation(call: Call, *, zonal: bool) -> Operation:
    zone = call.path("zone") if zonal else None
    return call.sim.ops.get(call.path("project"), zone, call.path("operation"))


async def zone_operations_get(call: Call) -> dict[str, Any]:
    return _operation(call, zonal=True).to_api()


async def zone_operations_wait(call: Call) -> dict[str, Any]:
    op = _operation(call, zonal=True)
    return (await call.sim.ops.wait(op, call.sim.store.config.wait_max)).to_api()


async def global_operations_get(call: Call) -> dict[str, Any]:
    return _operation(call, zonal=False).to_api()


async def global_operations_wait(call: Call) -> dict[str, Any]:
    op = _operation(call, zonal=False)
    return (await call.sim.ops.wait(op, call.sim.store.config.wait_max)).to_api()


_V1 = "/compute/v1/projects/{project}"
_ZONE = _V1 + "/zones/{zone}"

_ROUTES: list[tuple[str, str, str, Handler]] = [
    ("GET", _ZONE + "/instances", "compute.instances.list", instances_list),
    ("GET", _ZONE + "/instances/{instance}", "compute.instances.get", instances_get),
    ("DELETE", _ZONE + "/instances/{instance}", "compute.instances.delete", instances_delete),
    ("POST", _ZONE + "/instances/{instance}/stop", "compute.instances.stop", instances_stop),
    ("POST", _ZONE + "/instances/{instance}/start", "compute.instances.start", instances_start),
    (
        "POST",
        _ZONE + "/instances/{instance}/setMetadata",
        "compute.instances.setMetadata",
        instances_set_metadata,
    ),
    (
        "GET",
        _ZONE + "/instances/{resource}/getIamPolicy",
        "compute.instances.getIamPolicy",
        instances_get_iam_policy,
    ),
    (
        "POST",
        _ZONE + "/instances/{resource}/setIamPolicy",
        "compute.instances.setIamPolicy",
        instances_set_iam_policy,
    ),
    ("GET", _ZONE + "/disks/{disk}", "compute.disks.get", disks_get),
    ("DELETE", _ZONE + "/disks/{disk}", "compute.disks.delete", disks_delete),
    (
        "POST",
        _ZONE + "/disks/{disk}/createSnapshot",
        "compute.disks.createSnapshot",
        disks_create_snapshot,
    ),
    ("GET", _V1 + "/global/snapshots", "compute.snapshots.list", snapshots_list),
    ("GET", _V1 + "/global/snapshots/{snapshot}", "compute.snapshots.get", snapshots_get),
    ("DELETE", _V1 + "/global/snapshots/{snapshot}", "compute.snapshots.delete", snapshots_delete),
    (
        "GET",
        _ZONE + "/operations/{operation}",
        "compute.zoneOperations.get",
        zone_operations_get,
    ),
    (
        "POST",
        _ZONE + "/operations/{operation}/wait",
        "compute.zoneOperations.wait",
        zone_operations_wait,
    ),
    (
        "GET",
        _V1 + "/global/operations/{operation}",
        "compute.globalOperations.get",
        global_operations_get,
    ),
    (
        "POST",
        _V1 + "/global/operations/{operation}/wait",
        "compute.globalOperations.wait",
        global_operations_wait,
    ),
]

METHODS = tuple(method for _verb, _path, method, _handler in _ROUTES)


def routes() -> list[Route]:
    return [
        Route(path, api(method, handler), methods=[verb], name=method)
        for verb, path, method, handler in _ROUTES
    ]
