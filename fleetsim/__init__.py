"""Fleet simulator: a local stand-in for Compute Engine and every managed instance's frontend.

One process answers the Compute Engine REST API v1 paths that google-cloud-compute's REST
transport calls (instances, disks, snapshots, zone/global operations) and serves each
simulated instance's ``/healthz`` and ``/__version`` under ``/i/<slug>/``. The two halves
share one in-memory state, so a stopped VM fails its health check and a new
``sourcegraph-version`` metadata value shows up in ``/__version`` after a reconcile delay.
A JSON control API under ``/__control/`` seeds instances and injects faults.

It must not import Django: it runs as its own process (``python -m fleetsim``).
"""
