"""Reads of the health app, one module per concern; this package is their public face.

``states`` (the shown state, its filter), ``uptime`` (figures and the status bar), ``rows``
(a page's health rows), ``summary`` (dashboard counts), ``detail`` (the health page).
Version SLAs are not here: :mod:`instances.versions` owns them.
"""

from health.selectors.detail import InstanceHealthDetail, instance_health_detail
from health.selectors.rows import InstanceHealthRow, health_for_instances
from health.selectors.states import (
    HEALTH_FILTER_CHOICES,
    NOT_MONITORED,
    effective_state,
    filter_health,
    health_state_q,
)
from health.selectors.summary import HealthSummary, health_summary
from health.selectors.uptime import (
    BAR_DAYS,
    COMPACT_BAR_DAYS,
    DayCell,
    Uptime,
    level_for,
    status_bars,
    uptime_for_instances,
)

__all__ = [
    "BAR_DAYS",
    "COMPACT_BAR_DAYS",
    "HEALTH_FILTER_CHOICES",
    "NOT_MONITORED",
    "DayCell",
    "HealthSummary",
    "InstanceHealthDetail",
    "InstanceHealthRow",
    "Uptime",
    "effective_state",
    "filter_health",
    "health_for_instances",
    "health_state_q",
    "health_summary",
    "instance_health_detail",
    "level_for",
    "status_bars",
    "uptime_for_instances",
]
