"""A small synchronous client for the simulator's control API (tests, seed_demo, benchmarks).

Example::

    sim = FleetSimClient("http://127.0.0.1:8790")
    sim.upsert_instances([{"slug": "acme", "version": "5.3.0"}])
    sim.set_fault("compute.instances.get", status=503, count=2)
    sim.set_health("acme", "slow", latency=2.0)
    sim.stats()["methods"]["compute.instances.get"]["calls"]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, NotRequired, TypedDict

import httpx


class InstanceSpec(TypedDict):
    """One simulated instance; everything but ``slug`` has a default (see fleetsim.control)."""

    slug: str
    project: NotRequired[str]
    zone: NotRequired[str]
    name: NotRequired[str]
    machine_type: NotRequired[str]
    status: NotRequired[str]
    version: NotRequired[str]
    metadata: NotRequired[dict[str, str]]
    labels: NotRequired[dict[str, str]]
    boot_disk: NotRequired[str]
    data_disk: NotRequired[str]
    data_disk_size_gb: NotRequired[int]
    internal_ip: NotRequired[str]
    external_ip: NotRequired[str]
    health_mode: NotRequired[str]
    health_latency: NotRequired[float]
    reconcile_delay: NotRequired[float]
    iam_bindings: NotRequired[list[dict[str, Any]]]
    api_fields: NotRequired[dict[str, Any]]
    sql_instance: NotRequired[str]


class FleetSimError(Exception):
    """The control API refused a request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"fleetsim answered {status}: {message}")
        self.status = status


class FleetSimClient:
    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def __enter__(self) -> FleetSimClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def compute_endpoint(self) -> str:
        """The value for the ``GCP_COMPUTE_ENDPOINT`` setting."""
        return self.base_url

    def instance_url(self, slug: str) -> str:
        return f"{self.base_url}/i/{slug}"

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        # json.dumps escapes to ASCII, so a lone surrogate (a raw byte in a fault's body)
        # survives; httpx's own encoder would fail on it.
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if content is not None else None
        response = self._http.request(method, f"/__control{path}", content=content, headers=headers)
        if response.status_code >= 400:
            try:
                message = str(response.json().get("error", response.text))
            except ValueError:
                message = response.text
            raise FleetSimError(response.status_code, message)
        return response.json()

    # --- instances ---------------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            return bool(self._call("GET", "/ping").get("ok"))
        except (httpx.HTTPError, FleetSimError):
            return False

    def upsert_instances(
        self, instances: Iterable[InstanceSpec | Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        body = {"instances": [dict(spec) for spec in instances]}
        result: list[dict[str, Any]] = self._call("POST", "/instances", body)["instances"]
        return result

    def list_instances(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/instances")["instances"]
        return result

    def get_instance(self, slug: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/instances/{slug}")
        return result

    def delete_instance(self, slug: str) -> None:
        self._call("DELETE", f"/instances/{slug}")

    def set_health(
        self,
        slug: str,
        mode: str | None = None,
        *,
        latency: float | None = None,
        hang_seconds: float | None = None,
        reconcile_delay: float | None = None,
        broken: bool | None = None,
    ) -> dict[str, Any]:
        """Mode ``ok`` / ``slow`` / ``error`` / ``never_healthy`` / ``bad_release`` /
        ``hang``; None keeps it. ``broken``: ``/healthz`` fails (500) from now on while
        ``/__version`` still answers, until a mode is set."""
        body: dict[str, Any] = {}
        if mode is not None:
            body["mode"] = mode
        if broken is not None:
            body["broken"] = broken
        if latency is not None:
            body["latency"] = latency
        if hang_seconds is not None:
            body["hang_seconds"] = hang_seconds
        if reconcile_delay is not None:
            body["reconcile_delay"] = reconcile_delay
        result: dict[str, Any] = self._call("POST", f"/instances/{slug}/health", body)
        return result

    # --- faults, config, stats ---------------------------------------------------------------

    def set_fault(
        self,
        method: str,
        *,
        status: int | None = None,
        count: int | None = None,
        probability: float | None = None,
        latency: float = 0.0,
        message: str = "",
        reason: str = "",
        in_operation: bool = False,
        body: str | None = None,
    ) -> dict[str, Any]:
        """Fail (or slow down) calls to an API method such as ``compute.instances.get``.

        ``count``: the next N calls; ``probability``: each call with that chance; neither:
        every call until cleared. ``in_operation``: a mutation is accepted and its operation
        ends in the error instead (``reason`` as its code). ``body``: answer this raw text
        instead (lone surrogates become raw bytes; see ``fleetsim.faults``).
        """
        rule = {
            "method": method,
            "status": status,
            "count": count,
            "probability": probability,
            "latency": latency,
            "message": message,
            "reason": reason,
            "in_operation": in_operation,
            "body": body,
        }
        result: dict[str, Any] = self._call("POST", "/faults", rule)
        return result

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/faults")["faults"]
        return result

    def clear_faults(self, method: str | None = None) -> None:
        suffix = f"?method={method}" if method else ""
        self._call("DELETE", f"/faults{suffix}")

    def configure(
        self,
        *,
        operation_duration: float | None = None,
        operation_durations: Mapping[str, float] | None = None,
        reconcile_delay: float | None = None,
        wait_max: float | None = None,
    ) -> dict[str, Any]:
        """Operation durations (default and per method id), default reconcile delay, and the
        longest an ``operations.wait`` call blocks."""
        body: dict[str, Any] = {}
        if operation_duration is not None:
            body["operation_duration"] = operation_duration
        if operation_durations is not None:
            body["operation_durations"] = dict(operation_durations)
        if reconcile_delay is not None:
            body["reconcile_delay"] = reconcile_delay
        if wait_max is not None:
            body["wait_max"] = wait_max
        result: dict[str, Any] = self._call("POST", "/config", body)
        return result

    def config(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/config")
        return result

    def stats(self) -> dict[str, Any]:
        """``{"methods": {method: {calls, errors, in_flight, peak_concurrency}}, "total": {...},
        "health_by_slug": {slug: calls}, "deploys": {"peak_concurrency": n}}``; health
        endpoints are ``frontend.healthz`` and
        ``frontend.version``."""
        result: dict[str, Any] = self._call("GET", "/stats")
        return result

    def calls(self, method: str) -> int:
        return int(self.stats()["methods"].get(method, {}).get("calls", 0))

    def peak_concurrency(self, method: str) -> int:
        return int(self.stats()["methods"].get(method, {}).get("peak_concurrency", 0))

    def peak_deploys(self) -> int:
        """Most VMs that were deploying a new version (upgrade or rollback) at one moment."""
        return int(self.stats()["deploys"]["peak_concurrency"])

    def reset_stats(self) -> None:
        self._call("POST", "/stats/reset")

    def reset(self) -> None:
        """Forget every instance, disk, snapshot, operation, fault and stat; default config."""
        self._call("POST", "/reset")

    def snapshots(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/snapshots")["snapshots"]
        return result

    def backups(self) -> list[dict[str, Any]]:
        """Every Cloud SQL backup run: project, instance, id, status, description..."""
        result: list[dict[str, Any]] = self._call("GET", "/backups")["backups"]
        return result
