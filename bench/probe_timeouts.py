"""Probe timeouts: what a hung instance costs a sweep (the timing the tests no longer assert).

Starts the fleet simulator and times :func:`health.probes.run_probes` in three cases:

* 1 instance hanging for 30 s among 5 answering in 100 ms, 1 s timeout, 20 at a time:
  the sweep should end shortly after the timeout (goal < 3 s);
* 20 instances answering in 200 ms, 5 at a time: 4 rounds (goal 0.8 s to 2 s);
* 2 hanging and 8 prompt instances, 2 at a time, 1 s timeout: each slot pays one timeout,
  then the prompt ones pass (goal < 2.5 s).

No database is needed. Run: `.venv/bin/python bench/probe_timeouts.py`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleetsim.client import FleetSimClient  # noqa: E402
from fleetsim.process import running_fleetsim  # noqa: E402
from health.probes import ProbeTarget, run_probes  # noqa: E402


def _timed(
    sim: FleetSimClient, specs: list[dict[str, object]], *, concurrency: int, timeout: float
) -> float:
    sim.upsert_instances(specs)
    targets = [ProbeTarget(n, sim.instance_url(str(s["slug"]))) for n, s in enumerate(specs)]
    started = time.perf_counter()
    run_probes(targets, concurrency=concurrency, timeout=timeout)
    return time.perf_counter() - started


def main() -> None:
    with running_fleetsim() as sim:
        client = sim.client
        hung = [{"slug": "hung", "health_mode": "hang", "hang_seconds": 30}]
        prompt = [
            {"slug": f"ok{n}", "health_mode": "slow", "health_latency": 0.1} for n in range(5)
        ]
        wall = _timed(client, hung + prompt, concurrency=20, timeout=1.0)
        print(f"1 hung + 5 prompt, 1 s timeout: {wall:.2f} s (goal < 3 s)")
        slow = [{"slug": f"s{n}", "health_mode": "slow", "health_latency": 0.2} for n in range(20)]
        wall = _timed(client, slow, concurrency=5, timeout=2.0)
        print(f"20 x 200 ms, 5 at a time: {wall:.2f} s (goal 0.8 s to 2 s)")
        mixed = [{"slug": f"h{n}", "health_mode": "hang", "hang_seconds": 30} for n in range(2)]
        mixed += [{"slug": f"p{n}"} for n in range(8)]
        wall = _timed(client, mixed, concurrency=2, timeout=1.0)
        print(f"2 hung + 8 prompt, 2 at a time, 1 s timeout: {wall:.2f} s (goal < 2.5 s)")


if __name__ == "__main__":
    main()
