"""A rollout of 6.10.0 over 100 simulated v1.0 production instances: wall time vs ideal.

Each run starts the fleet simulator and a real Celery worker (threads) on a fresh bench
database, plans a rollout of every instance (no holds, releases long past, so only the
waves' order gates them: 10 %, then 40 %, then everyone) and drives it the way production
does: the worker's finished-operation listener advances it as each upgrade ends, and
``rollouts_advance_all`` (the beat task's body) runs every ``beat`` seconds as the sweep;
the end is watched every 0.1 s. ``BENCH_THREADS`` / ``BENCH_POOL`` change the worker
(default: threads, UPGRADE_CONCURRENCY + 4). The simulated
upgrade is short: the simulator reconciles a version change in 0.5 s and the stability window
is 0.5 s (probes every 0.1 s), so an upgrade takes about a second plus its snapshot and
probes. Printed per run: the wall time from start to completed, the ideal
ceil(N / UPGRADE_CONCURRENCY) x the measured mean upgrade time (first step to last), and
their ratio (goal <= 1.3), at the production beat (15 s).

Run: `.venv/bin/python bench/rollout.py` (databases mi_admin_bench_rollout_*).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N = 100
RUNS = ((5, 15), (10, 15))  # (UPGRADE_CONCURRENCY, beat seconds)
RECONCILE_DELAY, STABILITY, POLL = 0.5, 0.5, 0.1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--beat", type=float)
    args = parser.parse_args()
    if args.concurrency:
        one_run(args.concurrency, args.beat)
        return
    print(f"{N} v1.0 instances, simulated upgrade ~1 s (reconcile {RECONCILE_DELAY} s, "
          f"stability {STABILITY} s), no holds")  # fmt: skip
    for concurrency, beat in RUNS:
        subprocess.run(
            [sys.executable, __file__, "--concurrency", str(concurrency), "--beat", str(beat)],
            check=True,
            cwd=ROOT,
        )


def one_run(concurrency: int, beat: float) -> None:
    os.environ["BENCH_DATABASE"] = f"mi_admin_bench_rollout_{concurrency}_{int(beat)}"
    os.environ["UPGRADE_CONCURRENCY"] = str(concurrency)
    from _setup import setup_django

    from fleetsim.process import running_fleetsim

    with running_fleetsim() as sim:
        queue = f"bench-rollout-{uuid.uuid4().hex[:8]}"
        os.environ.update(
            {
                "GCP_COMPUTE_ENDPOINT": sim.client.compute_endpoint,
                "GCP_ANONYMOUS_CREDENTIALS": "1",
                "CELERY_QUEUE": queue,
            }
        )
        setup_django()
        pool = os.environ.get("BENCH_POOL", "threads")
        threads = os.environ.get("BENCH_THREADS", str(concurrency + 4))
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "mi_admin", "worker", "-l", "WARNING",
             "--pool", pool, "--concurrency", threads,
             "-n", f"{queue}@localhost", "--without-gossip", "--without-mingle"],
            cwd=ROOT,
            env={**os.environ},
        )  # fmt: skip
        try:
            _wait_for_worker(worker, f"{queue}@localhost")
            measure(sim.client, concurrency, beat)
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def _wait_for_worker(worker: subprocess.Popen[bytes], name: str) -> None:
    from mi_admin.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit("the worker exited")
        if app.control.ping(destination=[name], timeout=0.5):
            return
    raise SystemExit("the worker did not answer")


def measure(sim, concurrency: int, beat: float) -> None:  # type: ignore[no-untyped-def]
    from django.db.models import Max, Min

    from instances.models import Customer, Instance, OperationStep, Release
    from rollouts.models import RolloutState
    from rollouts.services import rollout_create, rollout_start, rollouts_advance_all

    for i, version in enumerate(["6.8.0", "6.9.1", "6.10.0"]):
        Release.objects.create(version=version, released_at=f"2026-0{i + 1}-05T12:00:00Z")
    release = Release.objects.get(version="6.10.0")
    customer = Customer.objects.create(name="Bench", slug="bench")
    vms = []
    for n in range(N):
        slug = f"bench-{n:03d}"
        Instance.objects.create(
            customer=customer, slug=slug, url=sim.instance_url(slug), kind="production",
            architecture="v1.0", state="active", gcp_project=f"sourcegraph-managed-{slug}",
            vm_name="default-red-instance", data_disk="default-red-data-disk",
            observed_version="6.9.1", vm_version="6.9.1",
        )  # fmt: skip
        vms.append(
            {"slug": slug, "project": f"sourcegraph-managed-{slug}",
             "name": "default-red-instance", "version": "6.9.1",
             "reconcile_delay": RECONCILE_DELAY, "health_mode": "ok"}
        )  # fmt: skip
    sim.upsert_instances(vms)
    rollout = rollout_create(
        release=release, actor=None, stability_seconds=STABILITY, deadline_seconds=30,
        poll_seconds=POLL,
    )  # fmt: skip
    waves = [w.targets.count() for w in rollout.waves.order_by("position")]
    started = time.monotonic()
    rollout_start(rollout=rollout, actor=None)
    deadline = started + 1800
    next_beat = started
    while time.monotonic() < deadline:
        # The beat task's body every `beat` seconds, as beat runs it; the rollout's state is
        # watched far more often, so the wall time is when it ended, not the next look.
        if time.monotonic() >= next_beat:
            rollouts_advance_all()
            next_beat += beat
        rollout.refresh_from_db()
        if rollout.state != RolloutState.RUNNING:
            break
        time.sleep(0.1)
    wall = time.monotonic() - started
    if rollout.state != RolloutState.COMPLETED:
        raise SystemExit(f"rollout ended {rollout.state}: {rollout.paused_reason}")
    # An upgrade's own time runs from its first step to its last (once it holds a slot):
    # the operation's started_at also counts the time deferred waiting for a slot.
    spans = (
        OperationStep.objects.filter(operation__kind="upgrade", operation__state="succeeded")
        .values("operation")
        .annotate(first=Min("started_at"), last=Max("finished_at"))
    )
    durations = [(s["last"] - s["first"]).total_seconds() for s in spans]
    upgrade = sum(durations) / len(durations)
    ideal = math.ceil(N / concurrency) * upgrade
    print(
        f"concurrency {concurrency:2d}, beat {beat:4.0f} s, waves {waves}: wall {wall:6.1f} s, "
        f"ideal {ideal:5.1f} s (ceil({N}/{concurrency}) x mean upgrade {upgrade:.2f} s), "
        f"ratio {wall / ideal:4.2f} (goal <= 1.3), peak deploys {sim.peak_deploys()}",
        flush=True,
    )


if __name__ == "__main__":
    main()
