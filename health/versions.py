"""The version SLA: every instance runs the newest release within a week of it.

Built on :mod:`mi_admin.sla`: :func:`~mi_admin.sla.version_clock` gives the deadline and
:func:`~mi_admin.sla.rollout_stage` the stage of the working-day rollout schedule, which
says whether an instance of a given kind should already run the release.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from django.db.models import CharField, F, Value
from django.db.models.functions import Coalesce, NullIf

from instances.models import Release
from instances.services.releases import VERSION_RE
from mi_admin.sla import (
    RolloutStage,
    SlaState,
    WorkCalendar,
    rollout_stage,
    version_clock,
)

CURRENT, DUE, OVERDUE, NO_RELEASE = "current", "due", "overdue", "no_release"
_DAY = 86400


@dataclass(frozen=True)
class LatestRelease:
    """What the version SLA needs of the newest release."""

    version: str
    kind: str
    released_at: datetime

    @classmethod
    def of(cls, release: Release) -> LatestRelease:
        return cls(release.version, release.kind, release.released_at)


def latest_release() -> LatestRelease | None:
    """The newest release by release time, or None before the first one."""
    release = Release.objects.order_by("-released_at", "-id").first()
    return LatestRelease.of(release) if release else None


def parse_version(text: str) -> tuple[int, ...] | None:
    """``"6.9.1"`` → ``(6, 9, 1)``; None for anything else (blank, ``"dev"``, a hash)."""
    text = text.strip().removeprefix("v")
    if not VERSION_RE.match(text):
        return None
    return tuple(int(part) for part in text.split("."))


def effective_version(observed_version: str, vm_version: str = "") -> str:
    """What the instance reports at ``/__version`` wins; else the VM's version metadata
    (as the fleet list shows it)."""
    return observed_version or vm_version


def version_expression() -> Coalesce:
    """:func:`effective_version` in SQL, for filters on any Instance queryset."""
    return Coalesce(
        NullIf(F("observed_version"), Value("")), F("vm_version"), output_field=CharField()
    )


def is_current(observed: str, latest: str) -> bool:
    """Whether ``observed`` is the latest version or newer (a test instance may run ahead)."""
    if not observed:
        return False
    if observed == latest:
        return True
    seen, wanted = parse_version(observed), parse_version(latest)
    return seen is not None and wanted is not None and seen >= wanted


def current_versions(versions: Iterable[str], latest: str) -> set[str]:
    """The version strings among ``versions`` that count as current (for SQL ``IN``)."""
    return {v for v in versions if is_current(v, latest)} | {latest}


@dataclass(frozen=True)
class VersionStatus:
    """An instance's version SLA: ``state`` is current / due / overdue / no_release, ``text``
    the words shown ("current", "due in 3 days", "overdue by 2 days")."""

    state: str
    text: str
    observed: str
    latest: str
    deadline: datetime | None = None
    sla_state: SlaState | None = None
    stage: RolloutStage | None = None
    stage_target_pct: int | None = None

    @property
    def level(self) -> str:
        """The pill colour: ok, warn or bad (idle without a release)."""
        if self.state == OVERDUE:
            return "bad"
        if self.state == DUE:
            return "warn" if self.sla_state == SlaState.AT_RISK or self.expected_now else "idle"
        return "ok" if self.state == CURRENT else "idle"

    @property
    def expected_now(self) -> bool:
        """The rollout schedule says every instance of this kind should run it by now."""
        return self.stage_target_pct == 100

    @property
    def stage_text(self) -> str:
        if self.stage is None:
            return ""
        share = (
            f"; {self.stage_target_pct} % of this kind should run it"
            if self.stage_target_pct is not None
            else ""
        )
        return f"{self.stage.label} (working day {self.stage.working_day}{share})"


def _days_left(seconds: float) -> int:
    """Days until a deadline, rounded up: half a day left is "1 day"."""
    return max(1, math.ceil(seconds / _DAY))


def _days_over(seconds: float) -> int:
    """Whole days past a deadline, at least one: 3 days and 1 minute is "3 days"."""
    return max(1, math.floor(seconds / _DAY))


def _plural(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


@functools.lru_cache(maxsize=64)
def _stage(kind: str, released_at: datetime, now: datetime, calendar: WorkCalendar) -> RolloutStage:
    # Every row of a page asks with the same release and the same "now".
    return rollout_stage(release_kind=kind, released_at=released_at, now=now, calendar=calendar)


def version_status(
    *,
    observed: str,
    kind: str,
    release: LatestRelease | None,
    now: datetime,
    calendar: WorkCalendar,
) -> VersionStatus:
    """The version SLA of one instance of ``kind`` running ``observed`` at ``now``."""
    if release is None:
        return VersionStatus(NO_RELEASE, "no release recorded", observed, "")
    stage = None
    target = None
    if now >= release.released_at:
        stage = _stage(release.kind, release.released_at, now, calendar)
        try:
            target = stage.target_pct(kind)
        except ValueError:
            target = None
    base = VersionStatus(
        CURRENT, "current", observed, release.version, stage=stage, stage_target_pct=target
    )
    if is_current(observed, release.version):
        return base
    clock = version_clock(release.released_at)
    sla_state = clock.state(now)
    remaining = clock.remaining(now).total_seconds()
    if sla_state == SlaState.BREACHED:
        text, state = f"overdue by {_plural(_days_over(-remaining))}", OVERDUE
    else:
        text, state = f"due in {_plural(_days_left(remaining))}", DUE
    return replace(base, state=state, text=text, deadline=clock.deadline, sla_state=sla_state)
