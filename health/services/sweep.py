"""The health sweep: probe every active instance, store what was seen, derive states.

One sweep = one round of probes (outside any transaction), then one transaction that
writes the samples (one ``bulk_create``), adds them to the daily rollups (one upsert),
advances each instance's hysteresis, records transitions, copies the observed version to
the instance, and opens or resolves ``down`` incidents. Suspended instances are not probed
(their health becomes ``suspended``); instances left without a recent probe become
``unknown``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from health import rollups
from health.choices import HealthState
from health.conf import HealthSettings, health_settings
from health.hysteresis import Step, Tracker, advance
from health.metrics import PROBE_LATENCY, PROBES, SWEEP_DURATION
from health.models import HealthSample, HealthTransition, InstanceHealth
from health.probes import ProbeResult, ProbeTarget, run_probes
from health.selectors import maintenance
from health.services import incidents
from health.services.provisioning import provisioning_results_record, provisioning_targets
from health.services.states import (
    health_mark_stale,
    health_mark_suspended,
    transition_to,
)
from instances.choices import MONITORED_STATES
from instances.models import Instance

logger = logging.getLogger(__name__)

_HEALTH_FIELDS = [
    "state",
    "consecutive_failures",
    "consecutive_successes",
    "recent_results",
    "last_probe_at",
    "last_ok_at",
    "last_latency_ms",
    "last_error",
    "observed_version",
    "state_changed_at",
]
INSTANCE_FIELDS = (
    "pk",
    "slug",
    "url",
    "kind",
    "state",
    "customer_id",
    "observed_version",
    "vm_version",
)


@dataclass
class SweepReport:
    probed: int = 0
    ok: int = 0
    failed: int = 0
    transitions: int = 0
    opened: int = 0
    resolved: int = 0
    suspended: int = 0
    stale: int = 0
    went_live: int = 0
    probe_seconds: float = 0.0
    states: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "probed": self.probed,
            "ok": self.ok,
            "failed": self.failed,
            "transitions": self.transitions,
            "opened": self.opened,
            "resolved": self.resolved,
            "suspended": self.suspended,
            "stale": self.stale,
            "went_live": self.went_live,
            "probe_seconds": round(self.probe_seconds, 3),
            "states": self.states,
        }


def sweep_run(*, conf: HealthSettings | None = None) -> SweepReport:
    """Probe every active instance and record the results (see the module docstring)."""
    conf = conf or health_settings()
    with SWEEP_DURATION.time():
        return _sweep(conf)


def _sweep(conf: HealthSettings) -> SweepReport:
    instances = list(
        Instance.objects.filter(state__in=MONITORED_STATES).only(*INSTANCE_FIELDS).order_by("pk")
    )
    # Provisioning instances are probed too, but only to see them go live: their results
    # are no samples, so they stay out of uptime and alerts until then.
    provisioning = provisioning_targets()
    targets = [ProbeTarget(i.pk, i.url) for i in instances if i.url]
    started = time.perf_counter()
    results = run_probes(
        [*targets, *provisioning], concurrency=conf.probe_concurrency, timeout=conf.probe_timeout
    )
    probe_seconds = time.perf_counter() - started
    waiting = {target.instance_id for target in provisioning}
    went_live = provisioning_results_record(
        results=[r for r in results if r.instance_id in waiting]
    )
    results = [r for r in results if r.instance_id not in waiting]
    report = probe_results_record(results=results, instances=instances, conf=conf)
    report.went_live = went_live
    report.probe_seconds = probe_seconds
    now = timezone.now()
    report.suspended = health_mark_suspended(now=now)
    report.stale = health_mark_stale(now=now, conf=conf)
    report.resolved += len(incidents.incidents_resolve_inactive(now=now))
    logger.info("health sweep: %s", report.as_dict())
    return report


def instance_health_refresh(*, instance_id: int, conf: HealthSettings | None = None) -> str:
    """Bring one instance's health up to date now that its lifecycle changed, instead of at
    the next sweep (which does the same for every instance, so nothing is lost if this never
    runs): a monitored (resumed) instance is probed and recorded at once; one that left
    monitoring (suspended, torn down) shows suspended and its open incidents are resolved."""
    conf = conf or health_settings()
    instance = Instance.objects.filter(pk=instance_id).only(*INSTANCE_FIELDS).first()
    if instance is None:
        return "gone"
    if instance.state in MONITORED_STATES:
        if not instance.url:
            return "no url"
        results = run_probes(
            [ProbeTarget(instance.pk, instance.url)],
            concurrency=1,
            timeout=conf.probe_timeout,
        )
        probe_results_record(results=results, instances=[instance], conf=conf)
        return "probed"
    now = timezone.now()
    health_mark_suspended(now=now)
    incidents.incidents_resolve_inactive(now=now)
    return "unmonitored"


def _apply(health: InstanceHealth, result: ProbeResult, conf: HealthSettings) -> Step:
    """Advance one instance's hysteresis with one result (state left to the caller)."""
    tracker = Tracker(
        HealthState(health.state),
        health.consecutive_failures,
        health.consecutive_successes,
        health.recent_results,
    )
    step = advance(tracker, ok=result.ok, latency_ms=result.latency_ms, config=conf.hysteresis)
    health.consecutive_failures = step.tracker.consecutive_failures
    health.consecutive_successes = step.tracker.consecutive_successes
    health.recent_results = step.tracker.recent_results
    health.last_probe_at = result.probed_at
    health.last_latency_ms = result.latency_ms
    health.last_error = result.error
    if result.ok:
        health.last_ok_at = result.probed_at
    if result.version:
        health.observed_version = result.version
    return step


def probe_results_record(
    *,
    results: Sequence[ProbeResult],
    instances: Sequence[Instance] | None = None,
    conf: HealthSettings | None = None,
) -> SweepReport:
    """Store probe results and act on them (several per instance apply in time order)."""
    conf = conf or health_settings()
    report = SweepReport(probed=len(results))
    if not results:
        return report
    ids = [r.instance_id for r in results]
    if instances is None:
        instances = list(Instance.objects.filter(pk__in=ids).only(*INSTANCE_FIELDS))
    by_id = {i.pk: i for i in instances}
    moments = [r.probed_at for r in results]
    with transaction.atomic():
        windows = maintenance.windows_by_instance(ids, min(moments), max(moments))
        samples = [
            _sample(r, maintenance.covered(windows.get(r.instance_id, []), r.probed_at))
            for r in results
        ]
        HealthSample.objects.bulk_create(samples)
        rollups.rollups_add_samples(samples=samples)
        # Alerts follow each instance's latest sample: muted while it is in maintenance.
        latest = {s.instance_id: s for s in sorted(samples, key=lambda s: s.probed_at)}
        muted = {iid for iid, sample in latest.items() if sample.in_maintenance}
        healths = _advance_all(results, by_id, conf, report)
        _copy_versions(results, by_id)
        changes = incidents.incidents_sync_down(healths=healths, muted=muted)
        report.opened, report.resolved = len(changes.opened), len(changes.resolved)
    report.ok = sum(r.ok for r in results)
    report.failed = report.probed - report.ok
    _observe(results)
    for health in healths:
        state = str(health.state)  # a plain string in logs and task results, not the enum
        report.states[state] = report.states.get(state, 0) + 1
    return report


def _observe(results: Sequence[ProbeResult]) -> None:
    for result in results:
        PROBES.labels("ok" if result.ok else "failed").inc()
        if result.latency_ms is not None:
            PROBE_LATENCY.observe(result.latency_ms / 1000)


def _sample(result: ProbeResult, in_maintenance: bool) -> HealthSample:
    return HealthSample(
        instance_id=result.instance_id,
        probed_at=result.probed_at,
        ok=result.ok,
        http_status=result.http_status,
        latency_ms=result.latency_ms,
        version=result.version[:32],
        error=result.error[:255],
        in_maintenance=in_maintenance,
    )


def _advance_all(
    results: Sequence[ProbeResult],
    by_id: dict[int, Instance],
    conf: HealthSettings,
    report: SweepReport,
) -> list[InstanceHealth]:
    ids = [r.instance_id for r in results]
    existing = {
        h.instance_id: h
        for h in InstanceHealth.objects.select_for_update().filter(instance_id__in=ids)
    }
    transitions: list[HealthTransition] = []
    for result in sorted(results, key=lambda r: r.probed_at):
        health = existing.get(result.instance_id)
        if health is None:
            health = InstanceHealth(instance_id=result.instance_id)
            existing[result.instance_id] = health
        health.instance = by_id[result.instance_id]
        step = _apply(health, result, conf)
        if step.tracker.state != health.state:
            transitions.append(
                transition_to(
                    health,
                    new_state=step.tracker.state,
                    at=result.probed_at,
                    reason=step.reason,
                )
            )
    # One upsert for new and known rows alike (much cheaper than bulk_update's CASE chains).
    InstanceHealth.objects.bulk_create(
        list(existing.values()),
        batch_size=500,
        update_conflicts=True,
        unique_fields=["instance"],
        update_fields=_HEALTH_FIELDS,
    )
    HealthTransition.objects.bulk_create(transitions)
    report.transitions = len(transitions)
    return list(existing.values())


def _copy_versions(results: Sequence[ProbeResult], by_id: dict[int, Instance]) -> None:
    changed = []
    for result in results:
        instance = by_id[result.instance_id]
        if result.version and instance.observed_version != result.version:
            instance.observed_version = result.version
            changed.append(instance)
    if changed:
        Instance.objects.bulk_update(changed, ["observed_version"], batch_size=500)


def samples_prune(*, now: datetime | None = None, conf: HealthSettings | None = None) -> int:
    """Delete raw samples older than ``HEALTH_SAMPLE_RETENTION_DAYS`` (rollups stay)."""
    now = now or timezone.now()
    conf = conf or health_settings()
    cutoff = now - timedelta(days=conf.retention_days)
    deleted, _ = HealthSample.objects.filter(probed_at__lt=cutoff).delete()
    logger.info("pruned %s health samples older than %s", deleted, cutoff.isoformat())
    return deleted
