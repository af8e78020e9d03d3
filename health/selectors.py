"""Reads for pages: health rows for a page of instances, uptime, the fleet summary, filters.

Uptime excludes samples taken in maintenance; suspended periods have no samples at all.
24 h figures come from raw samples, 7 d and 30 d from the daily rollups; all three are
computed by the database, for a whole page of instances in one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import (
    Avg,
    Case,
    Count,
    DateField,
    ExpressionWrapper,
    F,
    FloatField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, NullIf
from django.utils import timezone

from health.choices import HealthState
from health.conf import health_settings
from health.models import HealthDaily, HealthSample, HealthTransition, Incident, MaintenanceWindow
from health.rollups import day_of
from health.versions import (
    CURRENT,
    DUE,
    OVERDUE,
    LatestRelease,
    VersionStatus,
    current_versions,
    effective_version,
    latest_release,
    version_expression,
    version_status,
)
from instances.choices import LifecycleState
from instances.models import Instance, Release
from mi_admin.sla import version_clock, work_calendar_from_settings

BAR_DAYS = 90
UPTIME_MONTH_DAYS = 30
COMPACT_BAR_DAYS = 30  # a fleet-list row: the last 30 days (the instance page shows 90)
OK_PCT, WARN_PCT = 99.9, 99.0
NOT_MONITORED = "not_monitored"
STATE_LEVELS = {
    HealthState.HEALTHY: "ok",
    HealthState.DEGRADED: "warn",
    HealthState.DOWN: "bad",
    HealthState.UNKNOWN: "idle",
    HealthState.SUSPENDED: "idle",
}
HEALTH_FILTER_CHOICES = [(s.value, s.label) for s in HealthState]
VERSION_SLA_FILTER_CHOICES = [(CURRENT, "Current"), (DUE, "Due"), (OVERDUE, "Overdue")]


def level_for(pct: float | None) -> str:
    """The colour of an uptime figure: ok (≥ 99.9 %), warn (≥ 99 %), bad, idle (no data)."""
    if pct is None:
        return "idle"
    if pct >= OK_PCT:
        return "ok"
    return "warn" if pct >= WARN_PCT else "bad"


@dataclass(frozen=True)
class Uptime:
    """Uptime percentages (0 to 100) or None where there is no sample to judge by."""

    day: float | None = None
    week: float | None = None
    month: float | None = None
    month_days: int = 0  # days from the first counted sample in the 30 to today

    def as_dict(self) -> dict[str, float | None]:
        return {"24h": _round(self.day), "7d": _round(self.week), "30d": _round(self.month)}

    @property
    def month_level(self) -> str:
        return level_for(self.month)

    @property
    def month_coverage(self) -> str:
        """Says "over 3 d" when the 30-day figure rests on fewer than 30 days of data."""
        if self.month is None or self.month_days >= UPTIME_MONTH_DAYS:
            return ""
        return f"over {self.month_days} d"


def _round(pct: float | None) -> float | None:
    return None if pct is None else round(pct, 3)


@dataclass(slots=True)  # not frozen (a page builds thousands; frozen __init__ is slow)
class DayCell:
    """One day of the status bar."""

    day: date
    pct: float | None
    samples: int = 0
    excluded: int = 0

    @property
    def level(self) -> str:
        return level_for(self.pct)

    @property
    def title(self) -> str:
        if self.pct is None:
            return f"{self.day.isoformat()}: " + ("maintenance only" if self.samples else "no data")
        note = f", {self.excluded} samples in maintenance" if self.excluded else ""
        return f"{self.day.isoformat()}: {self.pct:.2f} % up{note}"


@dataclass(frozen=True)
class InstanceHealthRow:
    """Everything the fleet list and the instance page show about one instance's health."""

    instance_id: int
    slug: str
    state: str  # a HealthState value, or "not_monitored" (requested / provisioning / torn down)
    last_probe_at: datetime | None
    last_latency_ms: int | None
    last_error: str
    uptime: Uptime
    version: VersionStatus
    bar: list[DayCell] = field(default_factory=list)

    @property
    def state_label(self) -> str:
        if self.state == NOT_MONITORED:
            return "not monitored"
        return str(HealthState(self.state).label)

    @property
    def level(self) -> str:
        return STATE_LEVELS.get(self.state, "idle")  # type: ignore[call-overload]


# --- effective state, in Python and in SQL ----------------------------------------------------


def _stale_cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=health_settings().stale_seconds)


def effective_state(
    *, lifecycle: str, stored: str | None, last_probe_at: datetime | None, now: datetime
) -> str:
    """The state to show: stored state, unless suspended (lifecycle), not monitored, or stale."""
    if lifecycle == LifecycleState.SUSPENDED:
        return HealthState.SUSPENDED
    if lifecycle != LifecycleState.ACTIVE:
        return NOT_MONITORED
    if stored is None or last_probe_at is None or last_probe_at < _stale_cutoff(now):
        return HealthState.UNKNOWN
    if stored == HealthState.SUSPENDED:  # resumed, not probed yet
        return HealthState.UNKNOWN
    return stored


def health_state_q(state: str, *, now: datetime | None = None) -> Q:
    """An Instance filter matching :func:`effective_state` == ``state``."""
    cutoff = _stale_cutoff(now or timezone.now())
    if state == HealthState.SUSPENDED:
        return Q(state=LifecycleState.SUSPENDED)
    active = Q(state=LifecycleState.ACTIVE)
    if state == HealthState.UNKNOWN:
        return active & (
            Q(health__isnull=True)
            | Q(health__last_probe_at__isnull=True)
            | Q(health__last_probe_at__lt=cutoff)
            | Q(health__state__in=[HealthState.UNKNOWN, HealthState.SUSPENDED])
        )
    if state in (HealthState.HEALTHY, HealthState.DEGRADED, HealthState.DOWN):
        return active & Q(health__state=state, health__last_probe_at__gte=cutoff)
    raise ValueError(f"unknown health state {state!r}")


def filter_health(queryset: QuerySet[Instance], value: str) -> QuerySet[Instance]:
    """FilterSet helper: instances whose shown health is ``value`` (blank: all)."""
    if not value:
        return queryset
    return queryset.filter(health_state_q(value))


# --- versions ----------------------------------------------------------------------------------


_VERSION_ALIAS = "health_effective_version"


def _current_version_set(release: LatestRelease) -> set[str]:
    seen = Instance.objects.order_by().values_list("observed_version", "vm_version").distinct()
    return current_versions({effective_version(o, v) for o, v in seen}, release.version)


def _version_q(value: str, release: LatestRelease | None, current: set[str], now: datetime) -> Q:
    if release is None:
        return Q() if value == CURRENT else Q(pk__in=[])
    is_current = Q(**{f"{_VERSION_ALIAS}__in": current})
    if value == CURRENT:
        return is_current
    breached = now > version_clock(release.released_at).deadline
    if breached != (value == OVERDUE):
        return Q(pk__in=[])
    return Q(state=LifecycleState.ACTIVE) & ~is_current


def _version_sla_q(value: str, *, now: datetime | None = None) -> Q:
    """An Instance filter for version SLA ``value`` (current / due / overdue): only active
    instances are due or overdue; the deadline is the newest release's."""
    if value not in (CURRENT, DUE, OVERDUE):
        raise ValueError(f"unknown version SLA state {value!r}")
    release = latest_release()
    current = _current_version_set(release) if release else set()
    return _version_q(value, release, current, now or timezone.now())


def filter_version_sla(queryset: QuerySet[Instance], value: str) -> QuerySet[Instance]:
    """FilterSet helper: instances whose version SLA is ``value`` (blank: all)."""
    if not value:
        return queryset
    return queryset.alias(**{_VERSION_ALIAS: version_expression()}).filter(_version_sla_q(value))


# --- uptime --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _UptimeSubqueries:
    day: Subquery
    week: Subquery
    month: Subquery
    month_first_day: Subquery


def _uptime_subqueries(now: datetime) -> _UptimeSubqueries:
    today = day_of(now)
    raw = (
        HealthSample.objects.filter(
            instance=OuterRef("pk"),
            probed_at__gt=now - timedelta(hours=24),
            probed_at__lte=now,
            in_maintenance=False,
        )
        .order_by()
        .values("instance")
        .annotate(
            pct=Avg(
                Case(
                    When(ok=True, then=Value(100.0)), default=Value(0.0), output_field=FloatField()
                )
            )
        )
        .values("pct")
    )

    def daily(days: int) -> Subquery:
        counted = ExpressionWrapper(
            Cast(Sum("ok_samples"), FloatField())
            * Value(100.0)
            / NullIf(Cast(Sum(F("samples") - F("excluded_samples")), FloatField()), Value(0.0)),
            output_field=FloatField(),
        )
        rows = (
            HealthDaily.objects.filter(
                instance=OuterRef("pk"), day__gt=today - timedelta(days), day__lte=today
            )
            .order_by()
            .values("instance")
            .annotate(pct=counted)
            .values("pct")
        )
        return Subquery(rows, output_field=FloatField())

    first_counted_day = (
        HealthDaily.objects.filter(
            instance=OuterRef("pk"),
            day__gt=today - timedelta(UPTIME_MONTH_DAYS),
            day__lte=today,
            samples__gt=F("excluded_samples"),
        )
        .order_by()
        .values("instance")
        .annotate(first=Min("day"))
        .values("first")
    )
    return _UptimeSubqueries(
        Subquery(raw, output_field=FloatField()),
        daily(7),
        daily(UPTIME_MONTH_DAYS),
        Subquery(first_counted_day, output_field=DateField()),
    )


def _days_since(first: date | None, now: datetime) -> int:
    """Days of data behind a 30-day figure: from its first counted day through today."""
    return 0 if first is None else (day_of(now) - first).days + 1


def uptime_for_instances(
    instance_ids: Iterable[int], *, now: datetime | None = None
) -> dict[int, Uptime]:
    """24 h / 7 d / 30 d uptime per instance id, in one query."""
    now = now or timezone.now()
    ids = list(instance_ids)
    uptime = _uptime_subqueries(now)
    rows = (
        Instance.objects.filter(pk__in=ids)
        .order_by()
        .annotate(
            uptime_24h=uptime.day,
            uptime_7d=uptime.week,
            uptime_30d=uptime.month,
            uptime_30d_first=uptime.month_first_day,
        )
        .values_list("pk", "uptime_24h", "uptime_7d", "uptime_30d", "uptime_30d_first")
    )
    found = {
        pk: Uptime(day, week, month, _days_since(first, now))
        for pk, day, week, month, first in rows
    }
    return {pk: found.get(pk, Uptime()) for pk in ids}


def status_bars(
    instance_ids: Iterable[int], *, days: int = BAR_DAYS, now: datetime | None = None
) -> dict[int, list[DayCell]]:
    """The last ``days`` UTC days (oldest first) per instance, from the rollups (one query)."""
    today = day_of(now or timezone.now())
    first = today - timedelta(days=days - 1)
    ids = list(instance_ids)
    span = [first + timedelta(days=n) for n in range(days)]
    position = {day: n for n, day in enumerate(span)}
    no_data = [DayCell(day, None) for day in span]  # shared: cells are never changed
    bars = {iid: list(no_data) for iid in ids}
    rows = HealthDaily.objects.filter(instance_id__in=ids, day__gte=first, day__lte=today)
    for iid, day, samples, ok, excluded in rows.values_list(
        "instance_id", "day", "samples", "ok_samples", "excluded_samples"
    ):
        counted = samples - excluded
        pct = ok * 100.0 / counted if counted > 0 else None
        bars[iid][position[day]] = DayCell(day, pct, samples, excluded)
    return bars


# --- rows for a page ---------------------------------------------------------------------------


def _newest_release(field_name: str) -> Subquery:
    newest = Release.objects.order_by("-released_at", "-id").values(field_name)[:1]
    return Subquery(newest)


def health_for_instances(
    instance_ids: Iterable[int], *, now: datetime | None = None, bar_days: int = BAR_DAYS
) -> dict[int, InstanceHealthRow]:
    """Health rows for a page of instances: two queries whatever the page size (instances
    with health, uptime and the newest release; then the status bar rollups)."""
    now = now or timezone.now()
    ids = list(instance_ids)
    uptime = _uptime_subqueries(now)
    rows = list(
        Instance.objects.filter(pk__in=ids)
        .order_by()
        .annotate(
            uptime_24h=uptime.day,
            uptime_7d=uptime.week,
            uptime_30d=uptime.month,
            uptime_30d_first=uptime.month_first_day,
            release_version=_newest_release("version"),
            release_kind=_newest_release("kind"),
            release_released_at=_newest_release("released_at"),
        )
        .values(
            "pk",
            "slug",
            "kind",
            "state",
            "observed_version",
            "vm_version",
            "health__state",
            "health__last_probe_at",
            "health__last_latency_ms",
            "health__last_error",
            "uptime_24h",
            "uptime_7d",
            "uptime_30d",
            "uptime_30d_first",
            "release_version",
            "release_kind",
            "release_released_at",
        )
    )
    bars = status_bars(ids, days=bar_days, now=now) if rows else {}
    calendar = work_calendar_from_settings()
    result: dict[int, InstanceHealthRow] = {}
    for row in rows:
        release = None
        if row["release_version"]:
            release = LatestRelease(
                row["release_version"], row["release_kind"], row["release_released_at"]
            )
        observed = effective_version(row["observed_version"], row["vm_version"])
        version = version_status(
            observed=observed, kind=row["kind"], release=release, now=now, calendar=calendar
        )
        state = effective_state(
            lifecycle=row["state"],
            stored=row["health__state"],
            last_probe_at=row["health__last_probe_at"],
            now=now,
        )
        result[row["pk"]] = InstanceHealthRow(
            instance_id=row["pk"],
            slug=row["slug"],
            state=state,
            last_probe_at=row["health__last_probe_at"],
            last_latency_ms=row["health__last_latency_ms"],
            last_error=row["health__last_error"] or "",
            uptime=Uptime(
                row["uptime_24h"],
                row["uptime_7d"],
                row["uptime_30d"],
                _days_since(row["uptime_30d_first"], now),
            ),
            version=version,
            bar=bars.get(row["pk"], []),
        )
    return result


# --- fleet summary -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthSummary:
    """Counts for the dashboard's summary line."""

    healthy: int
    degraded: int
    down: int
    unknown: int
    suspended: int
    overdue: int
    due: int
    latest_version: str


def health_summary(*, now: datetime | None = None) -> HealthSummary:
    """Instances per shown health state, and how many are due / overdue on the newest
    release (three small queries)."""
    now = now or timezone.now()
    counts = {
        state.value: Count("pk", filter=health_state_q(state, now=now)) for state in HealthState
    }
    release = latest_release()
    if release is not None:
        current = _current_version_set(release)
        for value in (DUE, OVERDUE):
            counts[value] = Count("pk", filter=_version_q(value, release, current, now))
    totals = (
        Instance.objects.order_by()
        .alias(**{_VERSION_ALIAS: version_expression()})
        .aggregate(**counts)
    )
    return HealthSummary(
        healthy=totals[HealthState.HEALTHY],
        degraded=totals[HealthState.DEGRADED],
        down=totals[HealthState.DOWN],
        unknown=totals[HealthState.UNKNOWN],
        suspended=totals[HealthState.SUSPENDED],
        overdue=totals.get(OVERDUE, 0),
        due=totals.get(DUE, 0),
        latest_version=release.version if release else "",
    )


# --- the instance's health page ----------------------------------------------------------------


@dataclass(frozen=True)
class InstanceHealthDetail:
    row: InstanceHealthRow
    transitions: list[HealthTransition]
    incidents: list[Incident]
    windows: list[MaintenanceWindow]
    in_maintenance: bool


def instance_health_detail(
    instance: Instance, *, now: datetime | None = None
) -> InstanceHealthDetail:
    now = now or timezone.now()
    row = health_for_instances([instance.pk], now=now)[instance.pk]
    windows = list(
        MaintenanceWindow.objects.filter(instance=instance)
        .select_related("created_by")
        .order_by("retroactive", "kind", "-starts_at", "weekday")
    )
    return InstanceHealthDetail(
        row=row,
        transitions=list(HealthTransition.objects.filter(instance=instance)[:20]),
        incidents=list(
            Incident.objects.filter(instance=instance).prefetch_related("deliveries")[:10]
        ),
        windows=windows,
        in_maintenance=any(w.covers(now) for w in windows if not w.retroactive),
    )
