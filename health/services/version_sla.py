"""The hourly version SLA check: every active instance outside maintenance runs every
release within a week of its release, or has an open ``version_sla`` incident."""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone

from health.selectors import maintenance
from health.services import incidents
from health.services.sweep import INSTANCE_FIELDS
from instances.choices import MONITORED_STATES
from instances.models import Instance
from instances.versions import OVERDUE, ReleaseHistory
from mi_admin.sla import work_calendar_from_settings

logger = logging.getLogger(__name__)


def version_slas_check(*, now: datetime | None = None) -> incidents.IncidentChanges:
    """Open or resolve ``version_sla`` incidents for every active instance."""
    now = now or timezone.now()
    releases = ReleaseHistory.load()
    active = list(Instance.objects.filter(state__in=MONITORED_STATES).only(*INSTANCE_FIELDS))
    breached: dict[int, dict[str, object]] = {}
    if releases.latest is not None:
        calendar = work_calendar_from_settings()
        for instance in active:
            status = releases.instance_sla(instance, now=now, calendar=calendar)
            if status.state == OVERDUE:
                breached[instance.pk] = {
                    "instance": instance.slug,
                    "observed": status.version,
                    "latest": status.latest,
                    "text": status.text,
                    "deadline": status.deadline.isoformat() if status.deadline else None,
                }
    windows = maintenance.windows_by_instance(list(breached), now, now)
    candidates = [i for i in active if not maintenance.covered(windows.get(i.pk, []), now)]
    changes = incidents.incidents_sync_version(breached=breached, candidates=candidates, now=now)
    logger.info(
        "version SLA check: %s breached, %s opened, %s resolved",
        len(breached),
        len(changes.opened),
        len(changes.resolved),
    )
    return changes
