"""google-cloud-compute clients (REST transport), built once per process per endpoint.

Settings: ``GCP_COMPUTE_ENDPOINT`` ("" = Google's endpoint with Application Default
Credentials; ``http://127.0.0.1:8790`` = the fleet simulator) and
``GCP_ANONYMOUS_CREDENTIALS`` (True against the simulator). The REST transport keeps an
endpoint's ``http://`` scheme as given (it only adds ``https://`` to a bare host).

Gotcha handled here: an ``ExtendedOperation``'s ``result()`` polls through a zone / global /
region operations client that the transport builds lazily with the default endpoint, i.e.
the real Google host. We pre-fill the transport's ``_extended_operations_services`` with
operations clients on the same endpoint and credentials.

Clients are cached per (endpoint, anonymous); call ``clear_client_cache()`` after changing
the settings (tests) or after a fork that must not share connection pools.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import google.auth
from django.conf import settings
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import compute_v1

logger = logging.getLogger(__name__)

COMPUTE_SCOPE = "https://www.googleapis.com/auth/compute"


@dataclass(frozen=True)
class ComputeClients:
    instances: compute_v1.InstancesClient
    disks: compute_v1.DisksClient
    snapshots: compute_v1.SnapshotsClient
    zone_operations: compute_v1.ZoneOperationsClient
    global_operations: compute_v1.GlobalOperationsClient
    region_operations: compute_v1.RegionOperationsClient


def _credentials(anonymous: bool) -> Credentials:
    if anonymous:
        return AnonymousCredentials()
    credentials, _project = google.auth.default(scopes=[COMPUTE_SCOPE])
    return credentials


@functools.lru_cache(maxsize=8)
def _build(endpoint: str, anonymous: bool) -> ComputeClients:
    credentials = _credentials(anonymous)
    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    kwargs: dict[str, Any] = {
        "credentials": credentials,
        "transport": "rest",
        "client_options": options,
    }
    clients = ComputeClients(
        instances=compute_v1.InstancesClient(**kwargs),
        disks=compute_v1.DisksClient(**kwargs),
        snapshots=compute_v1.SnapshotsClient(**kwargs),
        zone_operations=compute_v1.ZoneOperationsClient(**kwargs),
        global_operations=compute_v1.GlobalOperationsClient(**kwargs),
        region_operations=compute_v1.RegionOperationsClient(**kwargs),
    )
    operation_services = {
        "zone_operations": clients.zone_operations,
        "global_operations": clients.global_operations,
        "region_operations": clients.region_operations,
    }
    for client in (clients.instances, clients.disks, clients.snapshots):
        client.transport._extended_operations_services.update(operation_services)
    logger.info("built Compute clients for %s", endpoint or "the default Google endpoint")
    return clients


def compute_clients() -> ComputeClients:
    """The clients for the current settings."""
    endpoint = str(getattr(settings, "GCP_COMPUTE_ENDPOINT", "") or "")
    anonymous = bool(getattr(settings, "GCP_ANONYMOUS_CREDENTIALS", False))
    return _build(endpoint.rstrip("/"), anonymous)


def clear_client_cache() -> None:
    _build.cache_clear()
