"""An instance's weekly upgrade maintenance window: setting and removing it (audited).

The arithmetic (is it open, when does it open next) is pure: :mod:`instances.windows`. The
database enforces the window's shape (``instance_maintenance_window_shape``); this service
takes a :class:`~instances.windows.WeeklyWindow`, which has been validated on creation.
"""

from __future__ import annotations

import logging

from django.db import transaction

from instances.models import Instance
from instances.windows import WeeklyWindow
from mi_admin.accounts.models import User
from mi_admin.audit.services import audit_record

logger = logging.getLogger(__name__)


def _described(instance: Instance) -> str:
    window = instance.maintenance_window
    return window.describe() if window is not None else ""


def instance_maintenance_window_set(
    *, instance: Instance, window: WeeklyWindow | None, actor: User
) -> Instance:
    """Set the instance's weekly maintenance window (UTC), or remove it with ``None``.

    Audited with the window before and after; setting the same window again writes nothing.
    Upgrades already waiting for the window read it again at their next look (at most
    ``WINDOW_RECHECK_SECONDS`` later).
    """
    with transaction.atomic():
        locked = Instance.objects.select_for_update().get(pk=instance.pk)
        before = _described(locked)
        if window is None:
            locked.maintenance_days, locked.maintenance_start, locked.maintenance_minutes = (
                0,
                None,
                None,
            )
        else:
            locked.maintenance_days = window.mask
            locked.maintenance_start = window.start
            locked.maintenance_minutes = window.minutes
        after = _described(locked)
        if after != before:
            locked.save(
                update_fields=[
                    "maintenance_days",
                    "maintenance_start",
                    "maintenance_minutes",
                    "updated_at",
                ]
            )
            audit_record(
                action="instance.maintenance_window_set"
                if window is not None
                else "instance.maintenance_window_removed",
                actor=actor,
                obj=locked,
                before={"maintenance_window": before},
                after={"maintenance_window": after},
            )
            logger.info("instance %s: maintenance window %r → %r", locked.slug, before, after)
    return locked
