"""Provisioning instances in the sweep: probed to see them go live, nothing else.

Their probes are not samples (no uptime, no health state, no alerts): an instance joins
monitoring and the version SLA when it is ACTIVE, which the first healthy probe with its
checklist complete makes it (``instances.services.provisioning.provisioning_probe_record``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from health.probes import ProbeResult, ProbeTarget
from instances.choices import LifecycleState
from instances.models import Instance
from instances.services.provisioning import provisioning_probe_record

logger = logging.getLogger(__name__)


def provisioning_targets() -> list[ProbeTarget]:
    """The provisioning instances the sweep probes (those with a URL)."""
    rows = Instance.objects.filter(state=LifecycleState.PROVISIONING).exclude(url="")
    return [ProbeTarget(pk, url) for pk, url in rows.order_by("pk").values_list("pk", "url")]


def provisioning_results_record(*, results: Sequence[ProbeResult]) -> int:
    """Report each provisioning instance's probe; how many went live."""
    went_live = 0
    for result in sorted(results, key=lambda r: r.probed_at):
        went_live += provisioning_probe_record(
            instance_id=result.instance_id,
            ok=result.ok,
            probed_at=result.probed_at,
            error=result.error,
        )
    if went_live:
        logger.info("health sweep: %d provisioning instances went live", went_live)
    return went_live
