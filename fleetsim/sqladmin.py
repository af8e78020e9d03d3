"""Cloud SQL Admin API v1 routes: the paths google-api-python-client's ``sqladmin`` v1 calls.

Covered: ``backupRuns.insert`` (an on-demand backup: answers a ``sql#operation``; the run is
ENQUEUED, then RUNNING, then SUCCESSFUL once the method's configured operation duration
passed), ``backupRuns.list`` (newest first, paged), ``backupRuns.get`` and
``operations.get``. As Cloud SQL does, a backup asked for while another is under way on the
instance is refused with 409 ``operationInProgress``, and there is no requestId: a client
that must not back up twice finds its earlier run (e.g. by its description) before asking.
Faults and stats work as for Compute (method ids ``sql.backupRuns.insert`` ...); a fault
``in_operation`` makes the operation end in that error and the run FAILED.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.routing import Route

from fleetsim.compute import Call, Handler, api
from fleetsim.errors import OPERATION_CODES, ApiError
from fleetsim.operations import SQL_API_ROOT, Failure, SqlOperation
from fleetsim.sim import Simulator
from fleetsim.state import BackupRun, SqlInstance, now_rfc3339

BUSY = ("ENQUEUED", "RUNNING")
INSERT = "sql.backupRuns.insert"


def backup_run_json(sql: SqlInstance, run: BackupRun) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "sql#backupRun",
        "id": str(run.id),
        "status": run.status,
        "type": run.type,
        "backupKind": "SNAPSHOT",
        "description": run.description,
        "instance": sql.name,
        "location": sql.region,
        "enqueuedTime": run.enqueued_time,
        "windowStartTime": run.enqueued_time,
        "selfLink": f"{SQL_API_ROOT}/{sql.path}/backupRuns/{run.id}",
    }
    if run.start_time:
        body["startTime"] = run.start_time
    if run.end_time:
        body["endTime"] = run.end_time
    if run.error_code:
        body["error"] = {
            "kind": "sql#operationError",
            "code": run.error_code,
            "message": run.error_message,
        }
    return body


def _sql(call: Call) -> SqlInstance:
    return call.sim.store.sql_instance(call.path("project"), call.path("instance"))


def _begin(sim: Simulator, op: SqlOperation, run: BackupRun) -> None:
    if op.status == "PENDING":
        op.status, op.start_time = "RUNNING", now_rfc3339()
    if run.status == "ENQUEUED":
        run.status, run.start_time = "RUNNING", now_rfc3339()
    sim.changed()


def _finish(sim: Simulator, op: SqlOperation, run: BackupRun, failure: Failure | None) -> None:
    _begin(sim, op, run)
    end = now_rfc3339()
    if failure is None:
        run.status = "SUCCESSFUL"
    else:
        run.status = "FAILED"
        run.error_code = failure.code or OPERATION_CODES.get(failure.status, "INTERNAL_ERROR")
        run.error_message = failure.message
    run.end_time = end
    op.failure, op.status, op.end_time = failure, "DONE", end
    sim.changed()


async def backup_runs_insert(call: Call) -> dict[str, Any]:
    sim = call.sim
    sql = _sql(call)
    body = await call.body()
    if any(run.status in BUSY for run in sql.backups):
        raise ApiError(
            409,
            "Operation failed because another operation was already in progress.",
            "operationInProgress",
        )
    failure, call.failure = call.failure, None
    run = BackupRun(
        project=sql.project, instance=sql.name, description=str(body.get("description", ""))
    )
    sql.backups.append(run)
    op = sim.sql_ops.add(
        SqlOperation(
            project=sql.project, target=sql.name, operation_type="BACKUP_VOLUME", backup_id=run.id
        )
    )
    loop = asyncio.get_running_loop()
    loop.call_soon(_begin, sim, op, run)
    loop.call_later(max(sim.store.config.duration_for(INSERT), 0.0), _finish, sim, op, run, failure)
    sim.changed()
    return op.to_api()


async def backup_runs_list(call: Call) -> dict[str, Any]:
    sql = _sql(call)
    items = [backup_run_json(sql, run) for run in reversed(sql.backups)]
    try:
        size = int(call.query("maxResults", "100") or "100")
        start = int(call.query("pageToken", "0") or "0")
    except ValueError as exc:
        raise ApiError(400, "Invalid maxResults or pageToken.", "invalid") from exc
    size = max(1, min(size, 100))
    body: dict[str, Any] = {"kind": "sql#backupRunsList", "items": items[start : start + size]}
    if start + size < len(items):
        body["nextPageToken"] = str(start + size)
    return body


async def backup_runs_get(call: Call) -> dict[str, Any]:
    sql = _sql(call)
    wanted = call.path("id")
    for run in sql.backups:
        if str(run.id) == wanted:
            return backup_run_json(sql, run)
    raise ApiError(404, f"The backup run {wanted} does not exist.", "backupRunDoesNotExist")


async def operations_get(call: Call) -> dict[str, Any]:
    return call.sim.sql_ops.get(call.path("project"), call.path("operation")).to_api()


_V1 = "/v1/projects/{project}"
_RUNS = _V1 + "/instances/{instance}/backupRuns"

_ROUTES: list[tuple[str, str, str, Handler]] = [
    ("POST", _RUNS, INSERT, backup_runs_insert),
    ("GET", _RUNS, "sql.backupRuns.list", backup_runs_list),
    ("GET", _RUNS + "/{id}", "sql.backupRuns.get", backup_runs_get),
    ("GET", _V1 + "/operations/{operation}", "sql.operations.get", operations_get),
]

METHODS = tuple(method for _verb, _path, method, _handler in _ROUTES)


def routes() -> list[Route]:
    return [
        Route(path, api(method, handler), methods=[verb], name=method)
        for verb, path, method, handler in _ROUTES
    ]
