"""Version semantics: the one owner of parsing, ordering, the newest release, behind / current /
ahead, and the version SLA. Every page, filter, export and task asks this module.

Rules:

* Releases are ordered by version number (MAJOR.MINOR.PATCH, as the registry enforces), so
  a patch to an older line published after a newer release does not count as newer. The
  newest release is the highest version.
* An instance's version is what it reports at ``/__version``, else the VM's version
  metadata (:func:`effective_version`).
* Position: ``current`` on the newest release; ``behind`` below it (by how many releases);
  ``ahead`` above it (a build not registered yet); ``unknown`` when blank, not a version
  number, or before the first release.
* Version SLA (only for active instances; suspended, torn-down and not yet running ones are
  "not held"): an instance is overdue once any release newer than its version has been out
  for 7 days; its deadline is the earliest-published such release + 7 days. An unknown
  version is held to the newest release's deadline. The rollout stage shown with the SLA is
  the stage of the release that sets the deadline.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf

from instances.choices import MONITORED_STATES, LifecycleState
from instances.models import Instance, Release
from mi_admin.sla import (
    RolloutStage,
    SlaState,
    WorkCalendar,
    rollout_stage,
    version_clock,
)

VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")

# Positions of a version against the release registry.
CURRENT, BEHIND, AHEAD, UNKNOWN = "current", "behind", "ahead", "unknown"
# Version SLA states (CURRENT is shared with the positions).
DUE, OVERDUE, NOT_HELD, NO_RELEASE = "due", "overdue", "not_held", "no_release"
SLA_FILTER_CHOICES = [(CURRENT, "Current"), (DUE, "Due"), (OVERDUE, "Overdue")]
# Held to the version SLA: what is monitored (a suspended instance is not; see choices).
HELD_STATES = MONITORED_STATES

_DAY = 86400
VERSION_ALIAS = "version"  # the annotation every Instance list carries


def parse_version(text: str) -> tuple[int, ...] | None:
    """``"6.9.1"`` → ``(6, 9, 1)``; None for anything else (blank, ``"dev"``, a hash)."""
    text = text.strip().removeprefix("v")
    if not VERSION_RE.match(text):
        return None
    return tuple(int(part) for part in text.split("."))


def supersedes(*, newer: str, older: str) -> bool:
    """``newer`` is a later release of ``older``'s line (same MAJOR.MINOR, higher PATCH):
    a patch release, which restarts the staged rollout of ``older``."""
    new_key, old_key = parse_version(newer), parse_version(older)
    if new_key is None or old_key is None:
        return False
    return new_key[:2] == old_key[:2] and new_key > old_key


def effective_version(observed_version: str, vm_version: str = "") -> str:
    """What the instance reports at ``/__version`` wins; the VM metadata of the last
    inventory sync stands in until the first probe answers."""
    return observed_version or vm_version


def version_expression() -> Coalesce:
    """:func:`effective_version` in SQL."""
    return Coalesce(
        NullIf(F("observed_version"), Value("")), F("vm_version"), output_field=CharField()
    )


def with_version(queryset: QuerySet[Instance]) -> QuerySet[Instance]:
    """``queryset`` with the ``effective_version`` alias the filters below rely on."""
    if VERSION_ALIAS in queryset.query.annotations:
        return queryset
    return queryset.alias(**{VERSION_ALIAS: version_expression()})


@dataclass(frozen=True)
class ReleaseInfo:
    """What the version rules need of one release."""

    version: str
    kind: str
    released_at: datetime
    key: tuple[int, ...]


@dataclass(frozen=True)
class Position:
    """Where a version stands: ``state`` is current / behind / ahead / unknown; ``behind``
    counts the releases newer than it (None unless behind)."""

    state: str
    version: str
    latest: str
    behind: int | None = None


@dataclass(frozen=True)
class VersionSla:
    """An instance's version SLA: ``state`` is current / due / overdue / not_held /
    no_release; ``text`` the words shown ("current", "due in 3 days", "overdue by 2 days")."""

    state: str
    text: str
    version: str
    latest: str
    deadline: datetime | None = None
    deadline_release: str = ""
    sla_state: SlaState | None = None
    stage: RolloutStage | None = None
    stage_target_pct: int | None = None

    @property
    def level(self) -> str:
        """The pill colour: ok, warn, bad, or idle (not held, no release, not expected yet)."""
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
    # Every row of a page asks with the same few releases and the same "now".
    return rollout_stage(release_kind=kind, released_at=released_at, now=now, calendar=calendar)


class ReleaseHistory:
    """The release registry, loaded once (one query) and asked many times for a page."""

    def __init__(self, releases: Iterable[ReleaseInfo]) -> None:
        self.releases: tuple[ReleaseInfo, ...] = tuple(
            sorted(releases, key=lambda r: (r.key, r.released_at))
        )
        self._keys = [release.key for release in self.releases]
        self._by_version = {release.version: n for n, release in enumerate(self.releases)}

    @classmethod
    def load(cls) -> ReleaseHistory:
        rows = Release.objects.values_list("version", "kind", "released_at")
        infos = []
        for version, kind, released_at in rows:
            key = parse_version(version)
            if key is not None:  # the registry only accepts MAJOR.MINOR.PATCH
                infos.append(ReleaseInfo(version, kind, released_at, key))
        return cls(infos)

    @property
    def latest(self) -> ReleaseInfo | None:
        """The newest release (the highest version), or None before the first one."""
        return self.releases[-1] if self.releases else None

    def newer_than(self, version: str) -> tuple[ReleaseInfo, ...] | None:
        """The releases newer than ``version``; None when it cannot be ordered."""
        index = self._by_version.get(version)
        if index is not None:
            return self.releases[index + 1 :]
        key = parse_version(version)
        if key is None:
            return None
        return self.releases[bisect.bisect_right(self._keys, key) :]

    def position(self, version: str) -> Position:
        latest = self.latest
        if latest is None:
            return Position(UNKNOWN, version, "")
        newer = self.newer_than(version)
        if newer is None:
            return Position(UNKNOWN, version, latest.version)
        if newer:
            return Position(BEHIND, version, latest.version, len(newer))
        if version in self._by_version:
            return Position(CURRENT, version, latest.version)
        key = parse_version(version)
        # Equal numbers written differently ("v5.9.0") are current; anything higher is ahead.
        state = CURRENT if key == latest.key else AHEAD
        return Position(state, version, latest.version)

    def deadline_release(self, version: str) -> ReleaseInfo | None:
        """The release whose week bounds ``version``: the earliest-published newer one (the
        newest release for a version that cannot be ordered); None when nothing is newer."""
        newer = self.newer_than(version)
        if newer is None:
            return self.latest
        return min(newer, key=lambda r: r.released_at, default=None)

    def sla(
        self, *, version: str, lifecycle: str, kind: str, now: datetime, calendar: WorkCalendar
    ) -> VersionSla:
        """The version SLA of an instance of ``kind`` in ``lifecycle`` running ``version``."""
        latest = self.latest
        if lifecycle not in HELD_STATES:
            # Says why, so a suspended instance reads "suspended" in every SLA column.
            text = "not held"
            if lifecycle in LifecycleState.values:
                text = f"not held: {LifecycleState(lifecycle).label.lower()}"
            return VersionSla(NOT_HELD, text, version, latest.version if latest else "")
        if latest is None:
            return VersionSla(NO_RELEASE, "no release recorded", version, "")
        bound = self.deadline_release(version)
        shown = bound or latest  # the stage beside the SLA is the deadline release's
        stage, target = None, None
        if now >= shown.released_at:
            stage = _stage(shown.kind, shown.released_at, now, calendar)
            try:
                target = stage.target_pct(kind)
            except ValueError:
                target = None
        if bound is None:
            return VersionSla(
                CURRENT, "current", version, latest.version, stage=stage, stage_target_pct=target
            )
        clock = version_clock(bound.released_at)
        sla_state = clock.state(now)
        remaining = clock.remaining(now).total_seconds()
        if sla_state == SlaState.BREACHED:
            text, state = f"overdue by {_plural(_days_over(-remaining))}", OVERDUE
        else:
            text, state = f"due in {_plural(_days_left(remaining))}", DUE
        return VersionSla(
            state,
            text,
            version,
            latest.version,
            deadline=clock.deadline,
            deadline_release=bound.version,
            sla_state=sla_state,
            stage=stage,
            stage_target_pct=target,
        )

    def instance_sla(
        self, instance: Instance, *, now: datetime, calendar: WorkCalendar
    ) -> VersionSla:
        """:meth:`sla` of an Instance row."""
        return self.sla(
            version=instance_version(instance),
            lifecycle=instance.state,
            kind=instance.kind,
            now=now,
            calendar=calendar,
        )

    def sla_state(self, version: str, now: datetime) -> str:
        """current / due / overdue for an instance held to the SLA (no rollout stage)."""
        if self.latest is None:
            return NO_RELEASE
        bound = self.deadline_release(version)
        if bound is None:
            return CURRENT
        return OVERDUE if now > version_clock(bound.released_at).deadline else DUE

    def rank(self, versions: Iterable[str] = ()) -> Case | Value:
        """SQL: a version's place in the order, for sorting: every release and every other
        version number among ``versions`` (an unregistered build sorts by its number);
        NULL for what cannot be ordered. Needs the ``version`` alias (:func:`with_version`)."""
        keys = {release.version: (release.key, 0) for release in self.releases}
        for version in versions:
            key = parse_version(version)
            if key is not None and version not in keys:
                keys[version] = (key, 1)
        if not keys:
            return Value(None, output_field=IntegerField())
        ordered = sorted(keys, key=keys.__getitem__)
        whens = [When(**{VERSION_ALIAS: v}, then=Value(n)) for n, v in enumerate(ordered)]
        return Case(*whens, default=None, output_field=IntegerField())

    def sla_deadline(self, versions: Iterable[str]) -> Case | Value:
        """SQL: the version SLA deadline of an instance held to the SLA, for sorting (the
        most overdue first); NULL when current, not held or before the first release.
        ``versions``: the fleet's versions. Needs the ``version`` alias (:func:`with_version`)."""
        deadlines: dict[datetime, list[str]] = {}
        if self.latest is not None:
            for version in versions:
                bound = self.deadline_release(version)
                if bound is not None:
                    deadline = version_clock(bound.released_at).deadline
                    deadlines.setdefault(deadline, []).append(version)
        if not deadlines:
            return Value(None, output_field=DateTimeField())
        whens = [
            When(
                Q(state__in=HELD_STATES, **{f"{VERSION_ALIAS}__in": sorted(group)}),
                then=Value(deadline),
            )
            for deadline, group in sorted(deadlines.items())
        ]
        return Case(*whens, default=None, output_field=DateTimeField())


def fleet_versions() -> set[str]:
    """Every distinct effective version in the fleet (one query): the filters below judge
    each version once in Python and filter with SQL ``IN``."""
    rows = Instance.objects.order_by().values_list("observed_version", "vm_version").distinct()
    return {effective_version(observed, vm) for observed, vm in rows}


def position_q(state: str, history: ReleaseHistory, versions: set[str] | None = None) -> Q:
    """An Instance filter (on :func:`with_version`) matching one version position."""
    seen = fleet_versions() if versions is None else versions
    matching = {v for v in seen if history.position(v).state == state}
    return Q(**{f"{VERSION_ALIAS}__in": matching})


def sla_q(
    value: str, history: ReleaseHistory, now: datetime, versions: set[str] | None = None
) -> Q:
    """An Instance filter (on :func:`with_version`) for version SLA ``value``: current, due
    or overdue. Only instances held to the SLA match any of them."""
    if value not in (CURRENT, DUE, OVERDUE):
        raise ValueError(f"unknown version SLA state {value!r}")
    seen = fleet_versions() if versions is None else versions
    matching = {v for v in seen if history.sla_state(v, now) == value}
    return Q(state__in=HELD_STATES) & Q(**{f"{VERSION_ALIAS}__in": matching})


@dataclass(frozen=True)
class SlaCounts:
    """How many instances held to the version SLA are due and overdue, on which release."""

    due: int
    overdue: int
    latest_version: str


def sla_counts(*, now: datetime) -> SlaCounts:
    """Due and overdue counts for the dashboard (three small queries)."""
    history = ReleaseHistory.load()
    if history.latest is None:
        return SlaCounts(0, 0, "")
    seen = fleet_versions()
    totals = with_version(Instance.objects.order_by()).aggregate(
        due=Count("pk", filter=sla_q(DUE, history, now, seen)),
        overdue=Count("pk", filter=sla_q(OVERDUE, history, now, seen)),
    )
    return SlaCounts(totals["due"], totals["overdue"], history.latest.version)


def instance_version(instance: Instance) -> str:
    """The effective version of an Instance row."""
    return effective_version(instance.observed_version, instance.vm_version)
