"""The GCP adapter: the only code in MI Admin that talks to Google Cloud (Compute Engine, and
the Cloud SQL Admin API for v1.1 backups).

Typed, keyword-only functions named ``<entity>_<verb>`` over google-cloud-compute's REST
transport, and ``sql_*`` over google-api-python-client's ``sqladmin`` v1 (built from its
static discovery document; see ``instances/gcp/sqladmin.py``: Cloud SQL has no requestId,
so a caller finds its backup again by description rather than relying on de-duplication).
They return plain frozen dataclasses (``Vm``, ``Disk``, ``Snapshot``, ``Operation``,
``IamPolicy``, ``BackupRun``, ``SqlOperation``...) and raise only ``GcpError`` subclasses:

- ``GcpTransientError`` (408, 429, 5xx except 501/505, rate-limit and not-ready reasons in
  either spelling, ``rateLimitExceeded`` or an operation's ``RATE_LIMIT_EXCEEDED``, timeouts
  including ``GcpTimeout``, connection errors): worth retrying later;
- ``GcpPermanentError`` (400, 401/403 as ``GcpPermissionDenied``, 404 as ``GcpNotFound``,
  409/412 as ``GcpConflict``, 501, an unparseable answer as ``GcpBadResponse``...):
  retrying the same call fails the same way.

Retry policy:

- Reads (get, list, getIamPolicy, operations) retry transient errors ``GCP_READ_RETRIES``
  times (default 3) with exponential backoff and jitter from ``GCP_RETRY_BASE_DELAY``
  (default 0.5 s). Google's own per-method retries are switched off so this is the only
  policy.
- Mutations (stop, start, delete, setMetadata, createSnapshot, setIamPolicy) are sent
  once and never retried here: the Celery task that calls them retries the whole step,
  guarded by its own state check. Every operation-returning mutation carries a UUID
  ``requestId`` (Compute refuses anything else): ``request_id_for(key)`` of the caller's
  ``request_id`` key, so a step resent with the same key gets the first operation back,
  or a fresh UUID without one. Each waits for its operation (``GCP_OPERATION_TIMEOUT``,
  default 300 s; ``GcpTimeout`` when exceeded, although the operation may still complete)
  and raises the operation's error if it ends in one.
- Read-modify-writes (``vm_set_metadata``, ``vm_iam_binding_add/remove``) are guarded by
  the metadata fingerprint or policy etag: a concurrent change (412 / 409) is read again
  and retried once; a second one raises ``GcpConflict``. ``vm_iam_policy_set`` writes the
  caller's policy as given, so a stale etag raises ``GcpConflict`` at once.

Endpoint and credentials come from settings ``GCP_COMPUTE_ENDPOINT`` ("" = Google with
Application Default Credentials) and ``GCP_ANONYMOUS_CREDENTIALS`` (the fleet simulator);
``GCP_REQUEST_TIMEOUT`` (default 60 s) bounds each HTTP request. Clients are cached per
process; ``clear_client_cache()`` forgets them.
"""

from instances.gcp.clients import clear_client_cache
from instances.gcp.compute import (
    disk_delete,
    disk_get,
    disk_snapshot_create,
    operation_get,
    operation_wait,
    request_id_for,
    snapshot_delete,
    snapshot_get,
    snapshot_list,
    vm_delete,
    vm_get,
    vm_iam_binding_add,
    vm_iam_binding_remove,
    vm_iam_policy_get,
    vm_iam_policy_set,
    vm_list,
    vm_set_metadata,
    vm_start,
    vm_stop,
)
from instances.gcp.errors import (
    GcpBadResponse,
    GcpConflict,
    GcpError,
    GcpNotFound,
    GcpPermanentError,
    GcpPermissionDenied,
    GcpTimeout,
    GcpTransientError,
)
from instances.gcp.iam import expiry_condition, policy_with_binding, policy_without_binding
from instances.gcp.models import (
    VM_STATUSES,
    AttachedDisk,
    BackupRun,
    Disk,
    IamBinding,
    IamCondition,
    IamPolicy,
    Operation,
    Snapshot,
    SqlOperation,
    Vm,
)
from instances.gcp.sqladmin import (
    BACKUP_RUN_FINAL,
    clear_sqladmin_cache,
    sql_backup_run_get,
    sql_backup_run_insert,
    sql_backup_run_list,
    sql_backup_run_wait,
    sql_operation_get,
    sql_operation_wait,
)

__all__ = [
    "BACKUP_RUN_FINAL",
    "VM_STATUSES",
    "AttachedDisk",
    "BackupRun",
    "Disk",
    "GcpBadResponse",
    "GcpConflict",
    "GcpError",
    "GcpNotFound",
    "GcpPermanentError",
    "GcpPermissionDenied",
    "GcpTimeout",
    "GcpTransientError",
    "IamBinding",
    "IamCondition",
    "IamPolicy",
    "Operation",
    "Snapshot",
    "SqlOperation",
    "Vm",
    "clear_client_cache",
    "clear_sqladmin_cache",
    "disk_delete",
    "disk_get",
    "disk_snapshot_create",
    "expiry_condition",
    "operation_get",
    "operation_wait",
    "policy_with_binding",
    "policy_without_binding",
    "request_id_for",
    "snapshot_delete",
    "snapshot_get",
    "snapshot_list",
    "sql_backup_run_get",
    "sql_backup_run_insert",
    "sql_backup_run_list",
    "sql_backup_run_wait",
    "sql_operation_get",
    "sql_operation_wait",
    "vm_delete",
    "vm_get",
    "vm_iam_binding_add",
    "vm_iam_binding_remove",
    "vm_iam_policy_get",
    "vm_iam_policy_set",
    "vm_list",
    "vm_set_metadata",
    "vm_start",
    "vm_stop",
]
