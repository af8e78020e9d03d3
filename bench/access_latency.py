"""Access grants: approval → binding present, and expiry → binding gone, over 20 grants.

Starts the fleet simulator and a real Celery worker (threads, concurrency 4) on a fresh
bench database, files 20 grants of a few seconds on 20 instances, approves them all as a
manager, and polls each VM's IAM policy through the real adapter: the first latency runs
from the approval's return to the first read showing the binding; the second from the
grant's ``expires_at`` to the first read showing it gone (the expiry task queued with that
eta; no beat runs). Prints p50/p95 of each. Goals: p95 ≤ 5 s and ≤ 60 s.

Run: `.venv/bin/python bench/access_latency.py` (uses database mi_admin_bench_access).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("BENCH_DATABASE", "mi_admin_bench_access")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _setup import setup_django  # noqa: E402

from fleetsim.process import running_fleetsim  # noqa: E402

GRANTS = 20
DURATION = timedelta(seconds=10)


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    with running_fleetsim() as sim:
        queue = f"bench-access-{uuid.uuid4().hex[:8]}"
        os.environ.update(
            {
                "GCP_COMPUTE_ENDPOINT": sim.client.compute_endpoint,
                "GCP_ANONYMOUS_CREDENTIALS": "1",
                "CELERY_QUEUE": queue,
            }
        )
        setup_django()
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "mi_admin", "worker", "-l", "WARNING",
             "--pool", "threads", "--concurrency", "4", "-n", f"{queue}@localhost",
             "--without-gossip", "--without-mingle"],
            cwd=ROOT,
            env={**os.environ},
        )  # fmt: skip
        try:
            _wait_for_worker(worker, f"{queue}@localhost")
            run(sim.client)
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def _wait_for_worker(worker: subprocess.Popen[bytes], name: str) -> None:
    """Measure from a ready worker, not from its start-up."""
    from mi_admin.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit("the worker exited")
        if app.control.ping(destination=[name], timeout=0.5):
            return
    raise SystemExit("the worker did not answer")


def run(sim) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group

    from access.models import AccessLevel
    from access.services import access_grant_request
    from instances import gcp
    from instances.models import Customer, Instance
    from mi_admin.accounts.models import User
    from mi_admin.approvals.services import approval_review_submit

    def person(name: str, group: str) -> User:
        user = User.objects.create(username=name, oidc_sub=f"sub-{name}", email=f"{name}@x.test")
        user.groups.add(Group.objects.get_or_create(name=group)[0])
        return user

    devops, manager = person("devops", "mi-devops"), person("manager", "mi-managers")
    level = AccessLevel.objects.get(name="SSH (OS Login)")
    customer = Customer.objects.create(name="Bench", slug="bench")
    grants = []
    for n in range(GRANTS):
        instance = Instance.objects.create(
            customer=customer, slug=f"bench-{n}", url="http://127.0.0.1:1/", kind="trial",
            architecture="v1.1", gcp_project=f"sourcegraph-managed-bench-{n}",
        )  # fmt: skip
        sim.upsert_instances(
            [{"slug": instance.slug, "project": instance.gcp_project, "zone": instance.gcp_zone,
              "name": instance.vm_name}]
        )  # fmt: skip
        grants.append(
            access_grant_request(
                requester=devops, instance=instance, level=level,
                justification="bench", duration=DURATION,
            )
        )  # fmt: skip

    def bound(grant) -> bool:  # type: ignore[no-untyped-def]
        i = grant.instance
        policy = gcp.vm_iam_policy_get(project=i.gcp_project, zone=i.gcp_zone, name=i.vm_name)
        return any(
            grant.member in b.members and b.condition and b.condition.title == grant.condition_title
            for b in policy.bindings
        )

    approved_at: dict[int, float] = {}
    for grant in grants:
        assert grant.approval_request is not None
        approval_review_submit(request=grant.approval_request, reviewer=manager, decision="approve")
        approved_at[grant.pk] = time.monotonic()
    to_bind: list[float] = []
    waiting = {g.pk: g for g in grants}
    deadline = time.monotonic() + 120
    while waiting and time.monotonic() < deadline:
        for pk, grant in list(waiting.items()):
            if bound(grant):
                to_bind.append(time.monotonic() - approved_at[pk])
                del waiting[pk]
    if waiting:
        raise SystemExit(f"{len(waiting)} grants never bound")
    to_gone: list[float] = []
    for grant in grants:
        grant.refresh_from_db()
    waiting = {g.pk: g for g in grants}
    deadline = time.monotonic() + 180
    while waiting and time.monotonic() < deadline:
        for pk, grant in list(waiting.items()):
            if not bound(grant):
                assert grant.expires_at is not None
                to_gone.append(time.time() - grant.expires_at.timestamp())
                del waiting[pk]
    if waiting:
        raise SystemExit(f"{len(waiting)} bindings never removed")
    print(f"{GRANTS} grants of {DURATION.total_seconds():.0f} s, worker: threads x4")
    for name, samples, goal in (
        ("approval -> binding present", to_bind, 5),
        ("expiry   -> binding gone   ", to_gone, 60),
    ):
        print(
            f"{name}: p50 {statistics.median(samples):6.2f} s  p95 {_pct(samples, 0.95):6.2f} s"
            f"  (goal p95 <= {goal} s)"
        )


if __name__ == "__main__":
    main()
