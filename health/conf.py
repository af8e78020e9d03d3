"""The health app's settings, read in one place with their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from health.hysteresis import HysteresisConfig


@dataclass(frozen=True)
class HealthSettings:
    sweep_seconds: int
    probe_concurrency: int
    probe_timeout: float
    slow_ms: int
    down_after: int
    up_after: int
    flap_flips: int
    stale_seconds: int
    retention_days: int
    maintenance_window_max_days: int
    sla_target_pct: float = 99.5
    maintenance_allowance_hours_per_quarter: float = 10.0

    @property
    def hysteresis(self) -> HysteresisConfig:
        return HysteresisConfig(
            down_after=self.down_after,
            up_after=self.up_after,
            slow_ms=self.slow_ms,
            flap_flips=self.flap_flips,
        )


def health_settings() -> HealthSettings:
    """``HEALTH_*`` settings (see mi_admin/settings.py), falling back to the defaults."""
    return HealthSettings(
        sweep_seconds=int(getattr(settings, "HEALTH_SWEEP_SECONDS", 60)),
        probe_concurrency=int(getattr(settings, "HEALTH_PROBE_CONCURRENCY", 100)),
        probe_timeout=float(getattr(settings, "HEALTH_PROBE_TIMEOUT", 5.0)),
        slow_ms=int(getattr(settings, "HEALTH_SLOW_MS", 2000)),
        down_after=int(getattr(settings, "HEALTH_DOWN_AFTER", 3)),
        up_after=int(getattr(settings, "HEALTH_UP_AFTER", 2)),
        flap_flips=int(getattr(settings, "HEALTH_FLAP_FLIPS", 3)),
        stale_seconds=int(getattr(settings, "HEALTH_STALE_SECONDS", 300)),
        maintenance_window_max_days=int(getattr(settings, "MAINTENANCE_WINDOW_MAX_DAYS", 7)),
        retention_days=int(getattr(settings, "HEALTH_SAMPLE_RETENTION_DAYS", 35)),
        sla_target_pct=float(getattr(settings, "UPTIME_SLA_TARGET_PCT", 99.5)),
        maintenance_allowance_hours_per_quarter=float(
            getattr(settings, "UPTIME_MAINTENANCE_ALLOWANCE_HOURS_PER_QUARTER", 10.0)
        ),
    )
