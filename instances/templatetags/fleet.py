"""Template helpers of the fleet pages: coloured pills, sortable headers, durations."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.http import QueryDict

from instances.choices import Drift, LifecycleState, OperationState, StepState

register = template.Library()

_PILLS: dict[str, dict[str, str]] = {
    "state": {
        LifecycleState.ACTIVE: "ok",
        LifecycleState.PROVISIONING: "warn",
        LifecycleState.REQUESTED: "idle",
        LifecycleState.SUSPENDED: "idle",
        LifecycleState.TORN_DOWN: "idle",
    },
    "drift": {Drift.NONE: "ok", Drift.SYNC_FAILED: "warn"},  # any other drift is bad
    "operation": {
        OperationState.PENDING: "idle",
        OperationState.RUNNING: "warn",
        OperationState.SUCCEEDED: "ok",
        OperationState.FAILED: "bad",
        OperationState.CANCELLED: "idle",
    },
    "step": {
        StepState.RUNNING: "warn",
        StepState.DONE: "ok",
        StepState.FAILED: "bad",
        StepState.SKIPPED: "idle",
    },
}


@register.filter
def pill(value: str, family: str) -> str:
    """The pill class for a state value: ``{{ instance.state|pill:"state" }}``."""
    default = "bad" if family == "drift" else "idle"
    return "pill pill-" + _PILLS.get(family, {}).get(value, default)


@register.simple_tag
def sort_query(params: QueryDict, column: str) -> str:
    """The query string that sorts by ``column``, or reverses it if already sorted so."""
    query = params.copy()
    query.pop("page", None)
    query["sort"] = "-" + column if params.get("sort") == column else column
    return query.urlencode()


@register.simple_tag
def sort_mark(params: QueryDict, column: str) -> str:
    current = params.get("sort", "")
    if current == column:
        return "▲"
    if current == "-" + column:
        return "▼"
    return ""


@register.simple_tag
def duration(started: datetime | None, finished: datetime | None) -> str:
    """How long a step or an operation took: "0.4 s", "12 s", "3 min 5 s"."""
    if started is None or finished is None:
        return ""
    seconds = max((finished - started).total_seconds(), 0.0)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


# The fleet list's drift pill: a word or two; the full label is its tooltip.
_DRIFT_SHORT: dict[str, str] = {
    Drift.VM_MISSING: "VM missing",
    Drift.VM_STOPPED: "VM stopped",
    Drift.VM_RUNNING: "VM running",
    Drift.SYNC_FAILED: "unreadable",
}


@register.filter
def sla_short(text: str) -> str:
    """The version SLA pill's words for the fleet list's narrow column ("overdue 178 d",
    "due in 3 d", "not held"); the whole sentence is its tooltip."""
    if text.startswith("not held"):
        return "not held"
    return text.replace("overdue by ", "overdue ").replace(" days", " d").replace(" day", " d")


@register.filter
def drift_short(value: str) -> str:
    """``{{ instance.drift|drift_short }}``: "VM stopped" for the list's narrow column."""
    return _DRIFT_SHORT.get(value, value)
