"""Reads of the health app, one module per concern: ``states`` (the shown state and its
filter), ``uptime`` (figures and the daily status bar), ``rows`` (a page's health rows),
``summary`` (dashboard counts), ``detail`` (the health page), ``maintenance`` (which
moments windows cover), ``deliveries`` (alert deliveries still owed), ``monthly`` (the monthly
uptime report). Version SLAs are not here:
:mod:`instances.versions` owns them.

The names below are what other modules use; import anything else from its module.
"""

from health.selectors.detail import instance_health_detail
from health.selectors.rows import health_for_instances
from health.selectors.states import HEALTH_FILTER_CHOICES, filter_health
from health.selectors.summary import health_summary
from health.selectors.uptime import COMPACT_BAR_DAYS, status_bars, uptime_for_instances

__all__ = [
    "COMPACT_BAR_DAYS",
    "HEALTH_FILTER_CHOICES",
    "filter_health",
    "health_for_instances",
    "health_summary",
    "instance_health_detail",
    "status_bars",
    "uptime_for_instances",
]
