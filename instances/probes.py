"""Reading one instance's ``/healthz`` and ``/__version`` while an upgrade waits on it.

A small synchronous probe for the upgrade runner. The health app's sweep
(``health/probes.py``) probes the whole fleet asynchronously; ``instances`` may not import
``health`` (the layers contract), and an upgrade needs one instance at a time, in a worker
thread, so this is its own dozen lines. :class:`HealthSummary` is the evidence an upgrade
keeps: how many probes, how many healthy, latencies, versions seen, the last error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from django.utils import timezone

VERSION_MAX_LENGTH = 32


@dataclass(frozen=True)
class Reading:
    """One probe: ``healthy`` means ``/healthz`` answered 2xx; ``version`` is what
    ``/__version`` answered ("" when it did not)."""

    at: datetime
    healthy: bool
    status: int | None
    version: str
    latency_ms: int | None
    error: str = ""

    def describe(self) -> str:
        health = "healthy" if self.healthy else (self.error or f"HTTP {self.status}")
        return f"/healthz {health}, /__version {self.version or 'no answer'}"


def instance_read(*, base_url: str, timeout: float) -> Reading:
    """Probe ``base_url``'s ``/healthz`` then ``/__version``; never raises."""
    base = base_url.rstrip("/")
    at = timezone.now()
    status: int | None = None
    latency_ms: int | None = None
    error = ""
    version = ""
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        try:
            health = client.get(f"{base}/healthz")
            status = health.status_code
            latency_ms = int(health.elapsed.total_seconds() * 1000)
            if not health.is_success:
                error = f"HTTP {status}: {health.text.strip()[:120]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        try:
            answer = client.get(f"{base}/__version")
            text = answer.text.strip()
            if answer.is_success and len(text) <= VERSION_MAX_LENGTH:
                version = text
        except httpx.HTTPError:
            pass
    healthy = status is not None and 200 <= status < 300
    return Reading(at, healthy, status, version, latency_ms, error)


@dataclass
class HealthSummary:
    """What the probes of one wait saw, kept on the operation for good."""

    probes: int = 0
    healthy: int = 0
    first_at: str = ""
    last_at: str = ""
    latencies: list[int] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    last_error: str = ""

    def add(self, reading: Reading) -> None:
        self.probes += 1
        self.healthy += reading.healthy
        self.first_at = self.first_at or reading.at.isoformat()
        self.last_at = reading.at.isoformat()
        if reading.latency_ms is not None:
            self.latencies.append(reading.latency_ms)
        if reading.version and reading.version not in self.versions:
            self.versions.append(reading.version)
        if reading.error:
            self.last_error = reading.error

    def as_dict(self) -> dict[str, Any]:
        lat = self.latencies
        return {
            "probes": self.probes,
            "healthy": self.healthy,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "latency_ms": (
                {"min": min(lat), "max": max(lat), "avg": round(sum(lat) / len(lat))} if lat else {}
            ),
            "versions": self.versions,
            "last_error": self.last_error,
        }

    def text(self) -> str:
        lat = self.as_dict()["latency_ms"]
        latency = f"; latency {lat['min']}-{lat['max']} ms" if lat else ""
        return f"{self.healthy} of {self.probes} probes healthy{latency}"
