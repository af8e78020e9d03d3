"""The control API under ``/__control/``: seed instances, inject faults, read stats.

All bodies are JSON. Errors answer ``{"error": "..."}`` with 400 or 404.

- ``GET  /__control/ping`` → ``{"ok": true, "instances": N}``
- ``GET  /__control/instances`` → ``{"instances": [view...]}``
- ``POST /__control/instances`` ``{"instances": [spec...]}`` → ``{"instances": [view...]}``
  (upsert by slug: an existing slug is replaced with its VM and disks)
- ``GET|DELETE /__control/instances/<slug>``
- ``POST /__control/instances/<slug>/health``
  ``{"mode", "latency", "hang_seconds", "reconcile_delay", "broken"}`` (all optional) → view
- ``POST /__control/reset`` → everything cleared, config back to defaults
- ``GET|POST|DELETE /__control/faults`` (POST: a rule, see ``fleetsim.faults``;
  DELETE ``?method=...`` clears that method's rules, or all)
- ``GET|POST /__control/config`` ``{"operation_duration", "operation_durations",
  "reconcile_delay", "wait_max"}`` (POST updates the given keys)
- ``GET /__control/stats``; ``POST /__control/stats/reset``
- ``GET /__control/snapshots`` → ``{"snapshots": [...]}``
- ``GET /__control/backups`` → ``{"backups": [...]}`` (every Cloud SQL backup run)

An instance spec: ``slug`` (required) and optionally ``project``
(default ``sourcegraph-managed-<slug>``), ``zone`` (``us-central1-f``), ``name``
(``default-red-instance``), ``machine_type``, ``status``, ``version``, ``metadata``,
``labels``, ``boot_disk``, ``data_disk`` (default ``default-<deployment>-data-disk``,
``""`` for none), ``data_disk_size_gb``, ``internal_ip``, ``external_ip``, ``health_mode``,
``health_latency``, ``reconcile_delay``, ``iam_bindings``, ``api_fields`` (an object
whose keys replace fields of the VM's API answer: e.g. ``{"status": "DEFROSTING"}`` to
simulate data GCP should never send; the simulated VM itself is unaffected),
``sql_instance`` (the name of the deployment's Cloud SQL instance, in the same project, for a
v1.1 instance; default none).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, fields
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetsim.errors import ApiError
from fleetsim.faults import FaultRule
from fleetsim.iam import normalize_bindings
from fleetsim.sim import Simulator
from fleetsim.state import (
    HEALTH_MODES,
    VERSION_KEY,
    VM_STATUSES,
    AttachedDisk,
    Config,
    Disk,
    IamPolicy,
    Instance,
    SqlInstance,
    Store,
    check_name,
    fingerprint,
)

# Cloud SQL instance names: lowercase letters, digits and hyphens, a letter first, up to 98.
SQL_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,96}[a-z0-9])?$")
SLUG_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DEPLOYMENT_RE = re.compile(r"^default-(?P<deployment>[a-z0-9]+)-instance$")


class AsciiJSONResponse(JSONResponse):
    """JSON escaped to ASCII, so a fault's body with lone surrogates (raw bytes) renders."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _sim(request: Request) -> Simulator:
    sim: Simulator = request.app.state.sim
    return sim


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = await request.json()
    except ValueError as exc:
        raise ControlError(f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ControlError("expected a JSON object")
    return data


def _handler(
    fn: Callable[[Request], Awaitable[Any]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return AsciiJSONResponse(await fn(request))
        except ControlError as exc:
            return AsciiJSONResponse({"error": str(exc)}, status_code=exc.status)
        except ApiError as exc:
            return AsciiJSONResponse({"error": exc.message}, status_code=400)
        except (TypeError, ValueError) as exc:
            return AsciiJSONResponse({"error": f"bad request: {exc}"}, status_code=400)

    return endpoint


# --- instances -----------------------------------------------------------------------------


def _ip(prefix: str, slug: str, salt: str) -> str:
    digest = hashlib.sha256(f"{salt}:{slug}".encode()).digest()
    return f"{prefix}.{digest[0]}.{digest[1]}.{digest[2] % 253 + 2}"


def _default_data_disk(vm_name: str) -> str:
    m = DEPLOYMENT_RE.match(vm_name)
    return f"default-{m['deployment']}-data-disk" if m else f"{vm_name}-data"


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ControlError(f"{what} must be an object")
    return {str(k): str(v) for k, v in value.items()}


def build_instance(
    store: Store, spec: dict[str, Any]
) -> tuple[Instance, list[Disk], SqlInstance | None]:
    slug = str(spec.get("slug", ""))
    if not SLUG_RE.match(slug):
        raise ControlError(f"invalid slug {slug!r}")
    project = str(spec.get("project") or f"sourcegraph-managed-{slug}")
    zone = str(spec.get("zone") or "us-central1-f")
    name = str(spec.get("name") or "default-red-instance")
    check_name("instance", name)
    status = str(spec.get("status") or "RUNNING")
    if status not in VM_STATUSES:
        raise ControlError(f"status must be one of {', '.join(VM_STATUSES)}")
    health_mode = str(spec.get("health_mode") or "ok")
    if health_mode not in HEALTH_MODES:
        raise ControlError(f"health_mode must be one of {', '.join(HEALTH_MODES)}")
    version = str(spec.get("version") or "5.0.0")
    metadata = {VERSION_KEY: version, **_str_map(spec.get("metadata"), "metadata")}
    boot_disk = str(spec.get("boot_disk") or name)
    data_disk = str(spec.get("data_disk", _default_data_disk(name)) or "")
    attached = [AttachedDisk(name=boot_disk, boot=True, auto_delete=True, device_name="boot")]
    disks = [Disk(project=project, zone=zone, name=boot_disk, size_gb=50, type="pd-balanced")]
    if data_disk:
        check_name("disk", data_disk)
        attached.append(AttachedDisk(name=data_disk, device_name="data"))
        size = int(spec.get("data_disk_size_gb") or 200)
        disks.append(Disk(project=project, zone=zone, name=data_disk, size_gb=size))
    bindings = list(spec.get("iam_bindings") or [])
    iam = IamPolicy(version=3 if bindings else 1, bindings=normalize_bindings(bindings, 3))
    iam.etag = fingerprint([bindings, slug])
    reconcile_delay = spec.get("reconcile_delay")
    api_fields = spec.get("api_fields") or {}
    if not isinstance(api_fields, dict):
        raise ControlError("api_fields must be an object")
    inst = Instance(
        project=project,
        zone=zone,
        name=name,
        slug=slug,
        machine_type=str(spec.get("machine_type") or "n2-standard-8"),
        status=status,
        running_version=version,
        metadata=metadata,
        labels=_str_map(spec.get("labels"), "labels"),
        disks=attached,
        internal_ip=str(spec.get("internal_ip") or _ip("10", slug, "internal")),
        external_ip=str(spec.get("external_ip", _ip("34", slug, "external")) or ""),
        iam=iam,
        health_mode=health_mode,
        health_latency=float(spec.get("health_latency") or 0.0),
        reconcile_delay=None if reconcile_delay is None else float(reconcile_delay),
        api_fields={str(k): v for k, v in api_fields.items()},
    )
    sql_name = str(spec.get("sql_instance") or "")
    sql = None
    if sql_name:
        if not SQL_NAME_RE.match(sql_name):
            raise ControlError(f"invalid Cloud SQL instance name {sql_name!r}")
        inst.sql_instance = sql_name
        sql = SqlInstance(project=project, name=sql_name, region=zone.rsplit("-", 1)[0])
    existing = store.slugs.get(slug)
    if inst.key in store.instances and existing != inst.key:
        other = store.instances[inst.key].slug
        raise ControlError(f"VM {inst.path} already belongs to slug {other!r}", 409)
    return inst, disks, sql


def instance_view(sim: Simulator, request: Request, slug: str) -> dict[str, Any]:
    known, inst = sim.store.instance_by_slug(slug)
    if not known:
        raise ControlError(f"no instance {slug!r}", 404)
    base = str(request.base_url).rstrip("/")
    view: dict[str, Any] = {"slug": slug, "url": f"{base}/i/{slug}", "deleted": inst is None}
    if inst is None:
        return view
    inst.settle(sim.now())
    view.update(
        project=inst.project,
        zone=inst.zone,
        name=inst.name,
        status=inst.status,
        machine_type=inst.machine_type,
        version=inst.running_version,
        desired_version=inst.metadata.get(VERSION_KEY, ""),
        reconciling_to=inst.reconcile_target,
        metadata=dict(inst.metadata),
        labels=dict(inst.labels),
        disks=[asdict(d) for d in inst.disks],
        internal_ip=inst.internal_ip,
        external_ip=inst.external_ip,
        iam=asdict(inst.iam),
        api_fields=dict(inst.api_fields),
        sql_instance=inst.sql_instance,
        health={
            "mode": inst.health_mode,
            "latency": inst.health_latency,
            "hang_seconds": inst.hang_seconds,
            "reconcile_delay": inst.reconcile_delay,
            "broken": inst.unhealthy,
        },
    )
    return view


async def ping(request: Request) -> dict[str, Any]:
    return {"ok": True, "instances": len(_sim(request).store.instances)}


async def list_instances(request: Request) -> dict[str, Any]:
    sim = _sim(request)
    return {"instances": [instance_view(sim, request, slug) for slug in sorted(sim.store.slugs)]}


async def upsert_instances(request: Request) -> dict[str, Any]:
    sim = _sim(request)
    specs = (await _json(request)).get("instances")
    if not isinstance(specs, list):
        raise ControlError("expected {'instances': [...]}")
    built = [build_instance(sim.store, spec) for spec in specs]
    keys = [inst.key for inst, _, _ in built]
    slugs = [inst.slug for inst, _, _ in built]
    if len(set(keys)) != len(keys) or len(set(slugs)) != len(slugs):
        raise ControlError("the batch names the same slug or the same VM twice")
    for inst, disks, sql in built:
        sim.store.delete_slug(inst.slug)
        sim.store.instances[inst.key] = inst
        sim.store.slugs[inst.slug] = inst.key
        for disk in disks:
            sim.store.disks[(disk.project, disk.zone, disk.name)] = disk
        if sql is not None:
            sim.store.sql_instances[(sql.project, sql.name)] = sql
        inst.begin_reconcile_if_needed(sim.now(), sim.store.config.reconcile_delay)
    sim.changed()
    return {"instances": [instance_view(sim, request, inst.slug) for inst, _, _ in built]}


async def get_instance(request: Request) -> dict[str, Any]:
    return instance_view(_sim(request), request, str(request.path_params["slug"]))


async def delete_instance(request: Request) -> dict[str, Any]:
    sim = _sim(request)
    slug = str(request.path_params["slug"])
    if slug not in sim.store.slugs:
        raise ControlError(f"no instance {slug!r}", 404)
    sim.store.delete_slug(slug)
    sim.changed()
    return {"deleted": slug}


async def set_health(request: Request) -> dict[str, Any]:
    sim = _sim(request)
    slug = str(request.path_params["slug"])
    _known, inst = sim.store.instance_by_slug(slug)
    if inst is None:
        raise ControlError(f"no live instance {slug!r}", 404)
    body = await _json(request)
    if "mode" in body:
        mode = str(body["mode"])
        if mode not in HEALTH_MODES:
            raise ControlError(f"mode must be one of {', '.join(HEALTH_MODES)}")
        inst.settle(sim.now())
        inst.health_mode = mode
        inst.broken = False
        inst.broken_version = ""
    if "broken" in body:
        # The frontend fails /healthz from now on (``/__version`` still answers).
        inst.settle(sim.now())
        inst.broken = bool(body["broken"])
    if "latency" in body:
        inst.health_latency = float(body["latency"])
    if "hang_seconds" in body:
        inst.hang_seconds = float(body["hang_seconds"])
    if "reconcile_delay" in body:
        delay = body["reconcile_delay"]
        inst.reconcile_delay = None if delay is None else float(delay)
    sim.changed()
    return instance_view(sim, request, slug)


# --- everything else -------------------------------------------------------------------------


async def reset(request: Request) -> dict[str, Any]:
    _sim(request).reset()
    return {"ok": True}


async def list_faults(request: Request) -> dict[str, Any]:
    return {"faults": [rule.to_json() for rule in _sim(request).faults.rules]}


async def add_fault(request: Request) -> dict[str, Any]:
    body = await _json(request)
    allowed = {f.name for f in fields(FaultRule)} - {"id"}
    unknown = set(body) - allowed
    if unknown:
        raise ControlError(f"unknown fault fields: {', '.join(sorted(unknown))}")
    if not body.get("method"):
        raise ControlError("a fault needs a method, e.g. 'compute.instances.get'")
    rule = FaultRule(**body)
    if rule.status is not None and not 400 <= int(rule.status) <= 599:
        raise ControlError("status must be an HTTP error status (400-599)")
    if rule.probability is not None and not 0.0 <= float(rule.probability) <= 1.0:
        raise ControlError("probability must be between 0 and 1")
    return _sim(request).faults.add(rule).to_json()


async def clear_faults(request: Request) -> dict[str, Any]:
    _sim(request).faults.clear(request.query_params.get("method"))
    return {"ok": True}


async def get_config(request: Request) -> dict[str, Any]:
    return asdict(_sim(request).store.config)


async def update_config(request: Request) -> dict[str, Any]:
    sim = _sim(request)
    body = await _json(request)
    current = asdict(sim.store.config)
    unknown = set(body) - set(current)
    if unknown:
        raise ControlError(f"unknown config keys: {', '.join(sorted(unknown))}")
    current.update(body)
    sim.store.config = Config(
        operation_duration=float(current["operation_duration"]),
        operation_durations={str(k): float(v) for k, v in current["operation_durations"].items()},
        reconcile_delay=float(current["reconcile_delay"]),
        wait_max=float(current["wait_max"]),
    )
    sim.changed()
    return asdict(sim.store.config)


async def get_stats(request: Request) -> dict[str, Any]:
    return _sim(request).stats.to_json()


async def reset_stats(request: Request) -> dict[str, Any]:
    _sim(request).stats.reset()
    return {"ok": True}


async def list_snapshots(request: Request) -> dict[str, Any]:
    snaps = _sim(request).store.snapshots.values()
    return {"snapshots": [asdict(s) for s in sorted(snaps, key=lambda s: (s.project, s.name))]}


async def list_backups(request: Request) -> dict[str, Any]:
    sqls = sorted(_sim(request).store.sql_instances.values(), key=lambda s: (s.project, s.name))
    return {"backups": [asdict(run) for sql in sqls for run in sql.backups]}


def routes() -> list[Route]:
    c = "/__control"
    return [
        Route(f"{c}/ping", _handler(ping), methods=["GET"]),
        Route(f"{c}/instances", _handler(list_instances), methods=["GET"]),
        Route(f"{c}/instances", _handler(upsert_instances), methods=["POST"]),
        Route(f"{c}/instances/{{slug}}", _handler(get_instance), methods=["GET"]),
        Route(f"{c}/instances/{{slug}}", _handler(delete_instance), methods=["DELETE"]),
        Route(f"{c}/instances/{{slug}}/health", _handler(set_health), methods=["POST"]),
        Route(f"{c}/reset", _handler(reset), methods=["POST"]),
        Route(f"{c}/faults", _handler(list_faults), methods=["GET"]),
        Route(f"{c}/faults", _handler(add_fault), methods=["POST"]),
        Route(f"{c}/faults", _handler(clear_faults), methods=["DELETE"]),
        Route(f"{c}/config", _handler(get_config), methods=["GET"]),
        Route(f"{c}/config", _handler(update_config), methods=["POST"]),
        Route(f"{c}/stats", _handler(get_stats), methods=["GET"]),
        Route(f"{c}/stats/reset", _handler(reset_stats), methods=["POST"]),
        Route(f"{c}/snapshots", _handler(list_snapshots), methods=["GET"]),
        Route(f"{c}/backups", _handler(list_backups), methods=["GET"]),
    ]
