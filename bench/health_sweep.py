"""Health sweep probes: 1,000 simulated instances answering in 100 ms each.

Starts the fleet simulator, gives it 1,000 instances in health mode ``slow`` (0.1 s per
request), then times :func:`health.probes.run_probes` over all of them at the default
concurrency (100) and compares the wall time with

* the ideal, 1,000 x 0.1 s / 100 = 1.0 s: each instance holds one concurrency slot while
  its two requests (``/healthz`` and ``/__version``) run in parallel, so an instance costs
  0.1 s of slot time, not 0.2 s;
* a sequential sweep (concurrency 1), measured on a subset and scaled to 1,000.

No database is needed. Run: `.venv/bin/python bench/health_sweep.py`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleetsim.process import running_fleetsim  # noqa: E402
from health.probes import ProbeTarget, run_probes  # noqa: E402

INSTANCES = 1000
LATENCY = 0.1
CONCURRENCY = 100
TIMEOUT = 5.0
SEQUENTIAL_SUBSET = 50
RUNS = 3
CHUNK = 250


def main() -> None:
    with running_fleetsim() as sim:
        slugs = [f"bench-{n:04d}" for n in range(INSTANCES)]
        for start in range(0, INSTANCES, CHUNK):
            sim.client.upsert_instances(
                [
                    {"slug": s, "health_mode": "slow", "health_latency": LATENCY}
                    for s in slugs[start : start + CHUNK]
                ]
            )
        targets = [ProbeTarget(n, sim.client.instance_url(s)) for n, s in enumerate(slugs)]

        run_probes(targets[:200], concurrency=CONCURRENCY, timeout=TIMEOUT)  # warm-up
        walls = []
        for _ in range(RUNS):
            started = time.perf_counter()
            results = run_probes(targets, concurrency=CONCURRENCY, timeout=TIMEOUT)
            walls.append(time.perf_counter() - started)
            failed = [r for r in results if not r.ok or r.version == ""]
            assert not failed, f"{len(failed)} probes failed, e.g. {failed[0]}"
        wall = statistics.median(walls)

        started = time.perf_counter()
        run_probes(targets[:SEQUENTIAL_SUBSET], concurrency=1, timeout=TIMEOUT)
        subset_wall = time.perf_counter() - started
        sequential = subset_wall * INSTANCES / SEQUENTIAL_SUBSET

        stats = sim.client.stats()["methods"]
        peak = stats.get("frontend.healthz", {}).get("peak_concurrency", 0)

    ideal = INSTANCES * LATENCY / CONCURRENCY
    print(f"instances: {INSTANCES}, each request answering in {LATENCY * 1000:.0f} ms")
    print(f"concurrency: {CONCURRENCY} instances at a time; per-instance timeout {TIMEOUT:g} s")
    print("requests: 2 per instance (/healthz and /__version), run in parallel inside the")
    print(f"  instance's slot, so an instance costs {LATENCY * 1000:.0f} ms of slot time")
    print(
        f"sweep wall time (median of {RUNS}): {wall:.2f} s  "
        f"[runs: {', '.join(f'{w:.2f}' for w in walls)}]"
    )
    print(f"ideal ({INSTANCES} x {LATENCY:g} s / {CONCURRENCY}): {ideal:.2f} s")
    print(f"sweep / ideal: {wall / ideal:.2f}x (goal <= 2.5x)")
    print(
        f"sequential (concurrency 1): measured {subset_wall:.2f} s on {SEQUENTIAL_SUBSET} "
        f"instances, scaled x{INSTANCES // SEQUENTIAL_SUBSET} to {sequential:.1f} s"
    )
    print(f"speed-up over sequential: {sequential / wall:.1f}x (goal >= 20x)")
    print(f"peak concurrent /healthz requests at the simulator: {peak}")


if __name__ == "__main__":
    main()
