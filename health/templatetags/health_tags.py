"""``{% load health_tags %}``: look up an instance's health row, format uptime figures."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def health_row(rows: dict[int, Any] | None, instance: Any) -> Any:
    """``health_rows|health_row:instance`` → that instance's InstanceHealthRow (or None)."""
    if not rows or instance is None:
        return None
    key = getattr(instance, "pk", instance)
    return rows.get(key)


@register.filter
def uptime_pct(value: float | None) -> str:
    """``99.9512`` → ``"99.95 %"``; None → an em dash (no data)."""
    if value is None:
        return "—"
    if value >= 99.995 and value < 100:
        return "99.99 %"  # never round a real outage up to a perfect 100
    return f"{value:.2f} %"
