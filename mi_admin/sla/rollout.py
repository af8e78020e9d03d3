"""The staged rollout schedule: which share of each instance kind should run a release,
counted in working days since it was published (from domain-facts.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mi_admin.sla.calendar import WorkCalendar, working_days_between

INSTANCE_KINDS = ("internal", "trial", "production")


@dataclass(frozen=True)
class RolloutStage:
    """Where a release's rollout should be: the shares (percent) each kind should reach
    by the end of this stage. ``last_day`` is None once the schedule is over."""

    name: str
    label: str
    working_day: int
    first_day: int
    last_day: int | None
    internal_pct: int
    trial_pct: int
    production_pct: int

    def target_pct(self, kind: str) -> int:
        if kind not in INSTANCE_KINDS:
            raise ValueError(f"unknown instance kind {kind!r}")
        return int(getattr(self, f"{kind}_pct"))

    @property
    def kinds(self) -> tuple[str, ...]:
        """The instance kinds that should (at least partly) run the release in this stage."""
        return tuple(kind for kind in INSTANCE_KINDS if self.target_pct(kind) > 0)


# (first_day, last_day, name, label, internal %, trial %, production %), from domain-facts.md.
_Row = tuple[int, int | None, str, str, int, int, int]
_MONTHLY: tuple[_Row, ...] = (
    (0, 2, "internal", "Internal instances", 100, 0, 0),
    (3, 4, "verification", "Verification", 100, 0, 0),
    (5, 6, "early", "30 % of trials, 10 % of customers", 100, 30, 10),
    (7, 8, "broad", "All trials, 40 % of customers", 100, 100, 40),
    (9, 10, "general", "All customers", 100, 100, 100),
    (11, None, "complete", "Rollout complete", 100, 100, 100),
)
_PATCH: tuple[_Row, ...] = (
    (0, 2, "internal", "Internal instances", 100, 0, 0),
    (3, 5, "everyone", "Everyone", 100, 100, 100),
    (6, None, "complete", "Rollout complete", 100, 100, 100),
)
# Keyed by the values of instances.choices.ReleaseKind (the platform does not import apps).
_SCHEDULES = {"monthly": _MONTHLY, "patch": _PATCH, "emergency": _PATCH}


def rollout_stage(
    *, release_kind: str, released_at: datetime, now: datetime, calendar: WorkCalendar
) -> RolloutStage:
    """The stage of the staged rollout ``now``, counted in working days since the release.

    Pass the newest release: a new patch release restarts the stages. Emergency releases
    follow the patch schedule. ``now`` before ``released_at`` is a ValueError.
    """
    schedule = _SCHEDULES.get(str(release_kind))
    if schedule is None:
        raise ValueError(f"unknown release kind {release_kind!r}")
    day = working_days_between(released_at, now, calendar=calendar)
    # Every schedule ends with an open-ended row, so a row always matches.
    first, last, name, label, internal, trial, production = next(
        row for row in schedule if row[1] is None or day <= row[1]
    )
    return RolloutStage(name, label, day, first, last, internal, trial, production)


def rollout_stages(*, release_kind: str) -> tuple[RolloutStage, ...]:
    """Every stage of the schedule for ``release_kind``, in order (``working_day`` is the
    stage's first day): what a rollout plans its waves from."""
    schedule = _SCHEDULES.get(str(release_kind))
    if schedule is None:
        raise ValueError(f"unknown release kind {release_kind!r}")
    return tuple(
        RolloutStage(name, label, first, first, last, internal, trial, production)
        for first, last, name, label, internal, trial, production in schedule
    )
