"""Long-running operations: every mutation returns one, and its effect lands when it is DONE.

An operation is PENDING when returned, RUNNING right after, and DONE once its configured
duration has passed; its effect (a callback) runs at that moment, unless the operation was
made to fail, in which case it ends with an error and changes nothing. ``wait`` blocks like
GCP's ``operations.wait``: until DONE or a maximum time, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleetsim.errors import HTTP_PHRASES, OPERATION_CODES, ApiError, not_found
from fleetsim.state import API_ROOT, new_id, now_rfc3339

# Old DONE operations are forgotten past this many, as GCP forgets them after a while.
MAX_OPERATIONS = 50_000

_seq = itertools.count(1)


@dataclass
class Failure:
    status: int
    message: str
    code: str = ""  # Compute's upper-case code; "" = the usual one for the status


@dataclass
class Operation:
    project: str
    zone: str | None
    name: str
    operation_type: str
    target_link: str
    target_id: int
    status: str = "PENDING"
    insert_time: str = field(default_factory=now_rfc3339)
    start_time: str = ""
    end_time: str = ""
    failure: Failure | None = None
    request_id: str = ""
    id: int = field(default_factory=new_id)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.project, self.zone or "", self.name)

    def to_api(self) -> dict[str, Any]:
        scope = f"zones/{self.zone}" if self.zone else "global"
        body: dict[str, Any] = {
            "kind": "compute#operation",
            "id": str(self.id),
            "name": self.name,
            "operationType": self.operation_type,
            "targetLink": self.target_link,
            "targetId": str(self.target_id),
            "status": self.status,
            "user": "fleetsim@example.com",
            "progress": 100 if self.status == "DONE" else 0,
            "insertTime": self.insert_time,
            "selfLink": f"{API_ROOT}/projects/{self.project}/{scope}/operations/{self.name}",
        }
        if self.zone:
            body["zone"] = f"{API_ROOT}/projects/{self.project}/zones/{self.zone}"
        if self.request_id:
            body["clientOperationId"] = self.request_id
        if self.start_time:
            body["startTime"] = self.start_time
        if self.end_time:
            body["endTime"] = self.end_time
        if self.status == "DONE" and self.failure is not None:
            code = self.failure.code or OPERATION_CODES.get(self.failure.status, "INTERNAL_ERROR")
            body["error"] = {"errors": [{"code": code, "message": self.failure.message}]}
            body["httpErrorStatusCode"] = self.failure.status
            body["httpErrorMessage"] = HTTP_PHRASES.get(self.failure.status, "ERROR")
        return body


class Operations:
    """All operations by (project, zone or "", name), plus requestId de-duplication."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._ops: OrderedDict[tuple[str, str, str], Operation] = OrderedDict()
        self._by_request_id: dict[tuple[str, str], tuple[str, str, str]] = {}
        self._on_change = on_change

    def clear(self) -> None:
        self._ops.clear()
        self._by_request_id.clear()

    def get(self, project: str, zone: str | None, name: str) -> Operation:
        op = self._ops.get((project, zone or "", name))
        if op is None:
            scope = f"zones/{zone}" if zone else "global"
            raise not_found(f"projects/{project}/{scope}/operations/{name}")
        return op

    def replay(self, project: str, request_id: str) -> Operation | None:
        """The operation an earlier call with the same requestId started, if any (GCP dedup)."""
        if not request_id:
            return None
        key = self._by_request_id.get((project, request_id))
        return self._ops.get(key) if key else None

    def start(
        self,
        *,
        project: str,
        zone: str | None,
        operation_type: str,
        target_link: str,
        target_id: int,
        duration: float,
        effect: Callable[[], None] | None,
        failure: Failure | None = None,
        request_id: str = "",
    ) -> Operation:
        name = f"operation-{int(time.time() * 1000)}-{next(_seq)}-{secrets.token_hex(4)}"
        op = Operation(
            project=project,
            zone=zone,
            name=name,
            operation_type=operation_type,
            target_link=target_link,
            target_id=target_id,
            request_id=request_id,
        )
        self._ops[op.key] = op
        if request_id:
            self._by_request_id[(project, request_id)] = op.key
        self._evict()
        loop = asyncio.get_running_loop()
        loop.call_soon(self._run, op)
        loop.call_later(max(duration, 0.0), self._finish, op, effect, failure)
        return op

    async def wait(self, op: Operation, max_seconds: float) -> Operation:
        if op.status != "DONE":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(op.done.wait(), timeout=max_seconds)
        return op

    def _run(self, op: Operation) -> None:
        if op.status == "PENDING":
            op.status = "RUNNING"
            op.start_time = now_rfc3339()

    def _finish(
        self, op: Operation, effect: Callable[[], None] | None, failure: Failure | None
    ) -> None:
        self._run(op)
        if failure is None and effect is not None:
            try:
                effect()
            except ApiError as exc:
                failure = Failure(exc.status, exc.message)
        op.failure = failure
        op.status = "DONE"
        op.end_time = now_rfc3339()
        op.done.set()
        self._on_change()

    def _evict(self) -> None:
        while len(self._ops) > MAX_OPERATIONS:
            key, old = next(iter(self._ops.items()))
            if old.status != "DONE":
                break
            del self._ops[key]
            if old.request_id:
                self._by_request_id.pop((old.project, old.request_id), None)


# --- Cloud SQL Admin operations ------------------------------------------------------------

SQL_API_ROOT = "https://sqladmin.googleapis.com/v1"


@dataclass
class SqlOperation:
    """A Cloud SQL Admin operation (``sql#operation``): its own shape and namespace, polled
    with ``operations.get`` (Cloud SQL has no requestId de-duplication)."""

    project: str
    target: str  # the Cloud SQL instance's name
    operation_type: str
    name: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "PENDING"
    insert_time: str = field(default_factory=now_rfc3339)
    start_time: str = ""
    end_time: str = ""
    failure: Failure | None = None
    backup_id: int | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "sql#operation",
            "name": self.name,
            "operationType": self.operation_type,
            "status": self.status,
            "user": "fleetsim@example.com",
            "insertTime": self.insert_time,
            "targetId": self.target,
            "targetProject": self.project,
            "targetLink": f"{SQL_API_ROOT}/projects/{self.project}/instances/{self.target}",
            "selfLink": f"{SQL_API_ROOT}/projects/{self.project}/operations/{self.name}",
        }
        if self.start_time:
            body["startTime"] = self.start_time
        if self.end_time:
            body["endTime"] = self.end_time
        if self.backup_id is not None:
            body["backupContext"] = {"kind": "sql#backupContext", "backupId": str(self.backup_id)}
        if self.status == "DONE" and self.failure is not None:
            code = self.failure.code or OPERATION_CODES.get(self.failure.status, "INTERNAL_ERROR")
            body["error"] = {
                "kind": "sql#operationErrors",
                "errors": [
                    {"kind": "sql#operationError", "code": code, "message": self.failure.message}
                ],
            }
        return body


class SqlOperations:
    """Cloud SQL operations by (project, name)."""

    def __init__(self) -> None:
        self._ops: OrderedDict[tuple[str, str], SqlOperation] = OrderedDict()

    def clear(self) -> None:
        self._ops.clear()

    def add(self, op: SqlOperation) -> SqlOperation:
        self._ops[(op.project, op.name)] = op
        while len(self._ops) > MAX_OPERATIONS:
            self._ops.popitem(last=False)
        return op

    def get(self, project: str, name: str) -> SqlOperation:
        op = self._ops.get((project, name))
        if op is None:
            raise ApiError(404, f"The operation {name} does not exist.", "operationDoesNotExist")
        return op
