"""Deriving an instance's health state from its probes, with hysteresis. Pure functions.

Rules, applied after each probe (``N`` = ``down_after``, ``M`` = ``up_after``):

* a failed probe: ``down`` once ``N`` probes in a row failed (or if already down);
  before that ``degraded`` (failing, not down yet);
* a successful probe after ``down`` or a failure-``degraded``: the state holds until ``M``
  probes in a row succeeded;
* otherwise a successful probe is ``degraded`` when it was slow (over ``slow_ms``) or the
  instance is flapping (at least ``flap_flips`` ok/failed changes among the last ten
  probes), else ``healthy``. From ``unknown`` or ``suspended`` one good probe is enough:
  there is no outage to be sure has ended.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from health.choices import HealthState

RECENT_WINDOW = 10


@dataclass(frozen=True)
class HysteresisConfig:
    down_after: int = 3
    up_after: int = 2
    slow_ms: int = 2000
    flap_flips: int = 3

    def __post_init__(self) -> None:
        if self.down_after < 1 or self.up_after < 1 or self.flap_flips < 1:
            raise ValueError("down_after, up_after and flap_flips must be >= 1")


@dataclass(frozen=True)
class Tracker:
    """What the hysteresis remembers between probes (mirrors InstanceHealth's fields)."""

    state: HealthState = HealthState.UNKNOWN
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    recent_results: str = ""

    @property
    def flips(self) -> int:
        recent = self.recent_results
        return sum(1 for a, b in itertools.pairwise(recent) if a != b)


@dataclass(frozen=True)
class Step:
    """The tracker after one probe, and in words why the state is what it is."""

    tracker: Tracker
    reason: str


def advance(
    tracker: Tracker, *, ok: bool, latency_ms: int | None, config: HysteresisConfig
) -> Step:
    """Feed one probe outcome to the tracker."""
    recent = (tracker.recent_results + ("1" if ok else "0"))[-RECENT_WINDOW:]
    if ok:
        counted = replace(
            tracker,
            consecutive_failures=0,
            recent_results=recent,
            consecutive_successes=tracker.consecutive_successes + 1,
        )
    else:
        counted = replace(
            tracker,
            consecutive_successes=0,
            recent_results=recent,
            consecutive_failures=tracker.consecutive_failures + 1,
        )
    state, reason = _next_state(tracker.state, counted, ok=ok, latency_ms=latency_ms, config=config)
    return Step(replace(counted, state=state), reason)


def _next_state(
    previous: HealthState,
    counted: Tracker,
    *,
    ok: bool,
    latency_ms: int | None,
    config: HysteresisConfig,
) -> tuple[HealthState, str]:
    if not ok:
        failures = counted.consecutive_failures
        if failures >= config.down_after or previous == HealthState.DOWN:
            return HealthState.DOWN, f"{failures} failed probes in a row"
        return HealthState.DEGRADED, f"failing ({failures} of {config.down_after} before down)"
    successes = counted.consecutive_successes
    recovering = previous in (HealthState.DOWN, HealthState.DEGRADED)
    if recovering and successes < config.up_after:
        # A degraded instance that was merely slow already has plenty of successes.
        return previous, f"recovering ({successes} of {config.up_after} good probes)"
    if latency_ms is not None and latency_ms > config.slow_ms:
        return HealthState.DEGRADED, f"slow: {latency_ms} ms (over {config.slow_ms} ms)"
    if counted.flips >= config.flap_flips:
        return HealthState.DEGRADED, f"flapping: {counted.flips} changes in the last probes"
    return HealthState.HEALTHY, "answering normally"
