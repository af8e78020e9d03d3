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
from django.db.models import Q
from django.utils import timezone

from health import incidents, maintenance, rollups
from health.choices import HealthState
from health.conf import HealthSettings, health_settings
from health.hysteresis import Step, Tracker, advance
from health.models import HealthSample, HealthTransition, InstanceHealth
from health.probes import ProbeResult, ProbeTarget, run_probes
from health.versions import effective_version, latest_release, version_status
from instances.choices import LifecycleState
from instances.models import Instance
from mi_admin.sla import work_calendar_from_settings

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
_INSTANCE_FIELDS = (
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
            "probe_seconds": round(self.probe_seconds, 3),
            "states": self.states,
        }


def sweep(*, conf: HealthSettings | None = None) -> SweepReport:
    """Probe every active instance and record the results (see the module docstring)."""
    conf = conf or health_settings()
    instances = list(
        Instance.objects.filter(state=LifecycleState.ACTIVE).only(*_INSTANCE_FIELDS).order_by("pk")
    )
    targets = [ProbeTarget(i.pk, i.url) for i in instances if i.url]
    started = time.perf_counter()
    results = run_probes(targets, concurrency=conf.probe_concurrency, timeout=conf.probe_timeout)
    probe_seconds = time.perf_counter() - started
    report = record_results(results, instances=instances, conf=conf)
    report.probe_seconds = probe_seconds
    now = timezone.now()
    report.suspended = mark_suspended(now=now)
    report.stale = mark_stale(now=now, conf=conf)
    report.resolved += len(incidents.resolve_for_inactive(now=now))
    logger.info("health sweep: %s", report.as_dict())
    return report


def _transition(
    health: InstanceHealth, new_state: str, at: datetime, reason: str
) -> HealthTransition:
    transition = HealthTransition(
        instance_id=health.instance_id,
        from_state=health.state,
        to_state=new_state,
        at=at,
        reason=reason[:255],
    )
    health.state = new_state
    health.state_changed_at = at
    return transition


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


def record_results(
    results: Sequence[ProbeResult],
    *,
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
        instances = list(Instance.objects.filter(pk__in=ids).only(*_INSTANCE_FIELDS))
    by_id = {i.pk: i for i in instances}
    moments = [r.probed_at for r in results]
    with transaction.atomic():
        windows = maintenance.windows_by_instance(ids, min(moments), max(moments))
        samples = [
            _sample(r, maintenance.covered(windows.get(r.instance_id, []), r.probed_at))
            for r in results
        ]
        HealthSample.objects.bulk_create(samples)
        rollups.add_samples(samples)
        # Alerts follow each instance's latest sample: muted while it is in maintenance.
        latest = {s.instance_id: s for s in sorted(samples, key=lambda s: s.probed_at)}
        muted = {iid for iid, sample in latest.items() if sample.in_maintenance}
        healths = _advance_all(results, by_id, conf, report)
        _copy_versions(results, by_id)
        changes = incidents.sync_down_incidents(healths=healths, muted=muted)
        report.opened, report.resolved = len(changes.opened), len(changes.resolved)
    report.ok = sum(r.ok for r in results)
    report.failed = report.probed - report.ok
    for health in healths:
        state = str(health.state)  # a plain string in logs and task results, not the enum
        report.states[state] = report.states.get(state, 0) + 1
    return report


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
                _transition(health, step.tracker.state, result.probed_at, step.reason)
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


def mark_suspended(*, now: datetime | None = None) -> int:
    """Suspended instances are not probed: their health shows ``suspended``."""
    now = now or timezone.now()
    with transaction.atomic():
        healths = list(
            InstanceHealth.objects.select_for_update()
            .filter(instance__state=LifecycleState.SUSPENDED)
            .exclude(state=HealthState.SUSPENDED)
        )
        transitions = [
            _transition(h, HealthState.SUSPENDED, now, "instance suspended") for h in healths
        ]
        for health in healths:
            health.consecutive_failures = health.consecutive_successes = 0
            health.recent_results = ""
        InstanceHealth.objects.bulk_update(
            healths,
            [
                "state",
                "state_changed_at",
                "consecutive_failures",
                "consecutive_successes",
                "recent_results",
            ],
        )
        HealthTransition.objects.bulk_create(transitions)
    return len(healths)


def mark_stale(*, now: datetime | None = None, conf: HealthSettings | None = None) -> int:
    """Active instances without a probe for ``HEALTH_STALE_SECONDS`` become ``unknown``."""
    now = now or timezone.now()
    conf = conf or health_settings()
    cutoff = now - timedelta(seconds=conf.stale_seconds)
    with transaction.atomic():
        healths = list(
            InstanceHealth.objects.select_for_update()
            .filter(instance__state=LifecycleState.ACTIVE)
            .exclude(state=HealthState.UNKNOWN)
            .filter(Q(last_probe_at__lt=cutoff) | Q(last_probe_at__isnull=True))
        )
        reason = f"no probe for over {conf.stale_seconds} s"
        transitions = [_transition(h, HealthState.UNKNOWN, now, reason) for h in healths]
        InstanceHealth.objects.bulk_update(healths, ["state", "state_changed_at"])
        HealthTransition.objects.bulk_create(transitions)
    return len(healths)


def prune_samples(*, now: datetime | None = None, conf: HealthSettings | None = None) -> int:
    """Delete raw samples older than ``HEALTH_SAMPLE_RETENTION_DAYS`` (rollups stay)."""
    now = now or timezone.now()
    conf = conf or health_settings()
    cutoff = now - timedelta(days=conf.retention_days)
    deleted, _ = HealthSample.objects.filter(probed_at__lt=cutoff).delete()
    logger.info("pruned %s health samples older than %s", deleted, cutoff.isoformat())
    return deleted


def check_version_slas(*, now: datetime | None = None) -> incidents.IncidentChanges:
    """Open or resolve ``version_sla`` incidents for every active instance."""
    now = now or timezone.now()
    release = latest_release()
    active = list(Instance.objects.filter(state=LifecycleState.ACTIVE).only(*_INSTANCE_FIELDS))
    breached: dict[int, dict[str, object]] = {}
    if release is not None:
        calendar = work_calendar_from_settings()
        for instance in active:
            observed = effective_version(instance.observed_version, instance.vm_version)
            status = version_status(
                observed=observed, kind=instance.kind, release=release, now=now, calendar=calendar
            )
            if status.state == "overdue":
                breached[instance.pk] = {
                    "instance": instance.slug,
                    "observed": observed,
                    "latest": status.latest,
                    "text": status.text,
                    "deadline": status.deadline.isoformat() if status.deadline else None,
                }
    windows = maintenance.windows_by_instance(list(breached), now, now)
    candidates = [i for i in active if not maintenance.covered(windows.get(i.pk, []), now)]
    changes = incidents.sync_version_incidents(breached=breached, candidates=candidates, now=now)
    logger.info(
        "version SLA check: %s breached, %s opened, %s resolved",
        len(breached),
        len(changes.opened),
        len(changes.resolved),
    )
    return changes
