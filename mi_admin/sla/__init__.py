"""SLA engine: working-day arithmetic, SLA clocks and the staged rollout schedule.

Pure functions over aware datetimes; nothing here touches the database. Version SLAs use it
now, request SLAs (response 24 h, resolution 15 working days) later.

* :mod:`~mi_admin.sla.calendar`: the holiday calendar and working-day arithmetic
* :mod:`~mi_admin.sla.clocks`: SLA clocks (deadline, at-risk window, state)
* :mod:`~mi_admin.sla.rollout`: the staged rollout schedule

The names below are re-exported so ``from mi_admin.sla import X`` keeps working.
"""

from mi_admin.sla.calendar import (
    WorkCalendar,
    add_hours,
    add_working_days,
    is_working_day,
    work_calendar_from_settings,
    working_days_between,
)
from mi_admin.sla.clocks import (
    AT_RISK_FRACTION,
    RESOLUTION_WORKING_DAYS,
    RESPONSE_HOURS,
    VERSION_DAYS,
    SlaClock,
    SlaState,
    resolution_clock,
    response_clock,
    version_clock,
)
from mi_admin.sla.rollout import INSTANCE_KINDS, RolloutStage, rollout_stage, rollout_stages

__all__ = [
    "AT_RISK_FRACTION",
    "INSTANCE_KINDS",
    "RESOLUTION_WORKING_DAYS",
    "RESPONSE_HOURS",
    "VERSION_DAYS",
    "RolloutStage",
    "SlaClock",
    "SlaState",
    "WorkCalendar",
    "add_hours",
    "add_working_days",
    "is_working_day",
    "resolution_clock",
    "response_clock",
    "rollout_stage",
    "rollout_stages",
    "version_clock",
    "work_calendar_from_settings",
    "working_days_between",
]
