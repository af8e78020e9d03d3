"""The GCP adapter: the only code in MI Admin that talks to Google Cloud (Compute Engine).

Typed, keyword-only functions named ``<entity>_<verb>`` over google-cloud-compute's REST
transport. They return plain frozen dataclasses (``Vm``, ``Disk``, ``Snapshot``,
``Operation``, ``IamPolicy``...) and raise only ``GcpError`` subclasses:

- ``GcpTransientError`` (429, 5xx, 403 rate-limit reasons, timeouts including
  ``GcpTimeout``, connection errors): worth retrying later;
- ``GcpPermanentError`` (400, 401/403 as ``GcpPermissionDenied``, 404 as ``GcpNotFound``,
  409/412 as ``GcpConflict``...): retrying the same call fails the same way.

Retry policy:

- Reads (get, list, getIamPolicy, operations) retry transient errors ``GCP_READ_RETRIES``
  times (default 3) with exponential backoff and jitter from ``GCP_RETRY_BASE_DELAY``
  (default 0.5 s). Google's own per-method retries are switched off so this is the only
  policy.
- Mutations (stop, start, delete, setMetadata, createSnapshot, setIamPolicy) are sent
  once and never retried here: the Celery task that calls them retries the whole step,
  guarded by its own state check (and may pass ``request_id`` so GCP de-duplicates a
  resent request). Each waits for its operation (``GCP_OPERATION_TIMEOUT``, default
  300 s; ``GcpTimeout`` when exceeded, although the operation may still complete) and
  raises the operation's error if it ends in one.
- Read-modify-writes (``vm_set_metadata``, ``vm_iam_binding_add/remove``) are guarded by
  the metadata fingerprint or policy etag: a concurrent change raises ``GcpConflict``.

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
    AttachedDisk,
    Disk,
    IamBinding,
    IamCondition,
    IamPolicy,
    Operation,
    Snapshot,
    Vm,
)

__all__ = [
    "AttachedDisk",
    "Disk",
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
    "Vm",
    "clear_client_cache",
    "disk_delete",
    "disk_get",
    "disk_snapshot_create",
    "expiry_condition",
    "operation_get",
    "operation_wait",
    "policy_with_binding",
    "policy_without_binding",
    "snapshot_delete",
    "snapshot_get",
    "snapshot_list",
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
