"""The hysteresis rules, table-driven: a sequence of probe outcomes → the states."""

from __future__ import annotations

import pytest

from health.choices import HealthState
from health.hysteresis import HysteresisConfig, Tracker, advance

H, DG, DN, U, S = (
    HealthState.HEALTHY,
    HealthState.DEGRADED,
    HealthState.DOWN,
    HealthState.UNKNOWN,
    HealthState.SUSPENDED,
)
CONFIG = HysteresisConfig(down_after=3, up_after=2, slow_ms=2000, flap_flips=3)
OK, FAIL, SLOW = (True, 50), (False, None), (True, 2500)


def run(start: HealthState, probes: list[tuple[bool, int | None]]) -> list[HealthState]:
    tracker = Tracker(state=start)
    states = []
    for ok, latency in probes:
        tracker = advance(tracker, ok=ok, latency_ms=latency, config=CONFIG).tracker
        states.append(tracker.state)
    return states


@pytest.mark.parametrize(
    ("start", "probes", "expected"),
    [
        pytest.param(U, [OK], [H], id="first good probe: healthy"),
        pytest.param(U, [FAIL, FAIL, FAIL], [DG, DG, DN], id="new instance failing: down at N"),
        pytest.param(H, [FAIL, FAIL, FAIL, FAIL], [DG, DG, DN, DN], id="down after N failures"),
        pytest.param(H, [FAIL, OK, OK], [DG, DG, H], id="one blip: healthy after M successes"),
        pytest.param(DN, [OK, OK], [DN, H], id="down holds until M successes"),
        pytest.param(DN, [OK, FAIL, OK, OK], [DN, DN, DN, H], id="a failure resets recovery"),
        pytest.param(H, [FAIL, FAIL, OK, FAIL], [DG, DG, DG, DG], id="short of N: never down"),
        pytest.param(H, [SLOW], [DG], id="slow: degraded"),
        pytest.param(H, [SLOW, OK], [DG, H], id="fast again: healthy"),
        pytest.param(DN, [SLOW, SLOW], [DN, DG], id="recovers slow: degraded"),
        pytest.param(S, [OK], [H], id="resumed: healthy on the first good probe"),
        pytest.param(
            H, [FAIL, OK, OK, FAIL, OK, OK], [DG, DG, H, DG, DG, DG], id="flapping: degraded"
        ),
        pytest.param(
            H, [FAIL, FAIL, FAIL, OK, OK], [DG, DG, DN, DN, H], id="one outage is no flapping"
        ),
    ],
)
def test_hysteresis(start, probes, expected):
    # given an instance in `start`; when these probes come in; then it goes through `expected`
    assert run(start, probes) == expected


def test_recent_results_keep_the_last_ten():
    # given eleven probes
    tracker = Tracker()
    for ok in [False] + [True] * 10:
        tracker = advance(tracker, ok=ok, latency_ms=10, config=CONFIG).tracker
    # then only the last ten are remembered
    assert tracker.recent_results == "1" * 10
    assert tracker.consecutive_successes == 10


def test_config_rejects_zero_thresholds():
    # given / when / then
    with pytest.raises(ValueError, match="must be >= 1"):
        HysteresisConfig(down_after=0)
