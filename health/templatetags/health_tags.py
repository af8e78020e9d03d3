"""``{% load health_tags %}``: uptime figures and the daily status bar."""

from __future__ import annotations

from html import escape
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from health.selectors import COMPACT_BAR_DAYS

register = template.Library()


@register.filter
def uptime_pct(value: float | None) -> str:
    """``99.9512`` → ``"99.95 %"``; None → an em dash (no data)."""
    if value is None:
        return "—"
    if value >= 99.995 and value < 100:
        return "99.99 %"  # never round a real outage up to a perfect 100
    return f"{value:.2f} %"


@register.inclusion_tag("health/_status_bar.html")
def status_bar(cells: list[Any], *, compact: bool = False) -> dict[str, Any]:
    """The daily uptime bar. On the instance page every day has its own tooltip; a fleet-list
    row (``compact``) has one tooltip for the whole bar, which keeps a 50-row page light."""
    shown = cells[-COMPACT_BAR_DAYS:] if compact else cells
    summary = ""
    if compact:
        below = sum(1 for cell in shown if cell.level in ("warn", "bad"))
        summary = f"{len(shown)} days: {below} below 99.9 % uptime" if below else ""
    return {
        "cells": shown,
        "compact": compact,
        "summary": summary or f"{len(shown)} days",
        "cells_html": _cells_html(shown, titles=not compact),
    }


def _cells_html(cells: list[Any], *, titles: bool) -> SafeString:
    # Built here, not by a template loop: the fleet list renders 50 bars a page, and a loop
    # (or format_html) per cell cost milliseconds per row. ``level`` is one of our own CSS
    # class suffixes; the title is escaped.
    if not titles:
        return mark_safe(  # noqa: S308 (our own class names only)
            "".join(f'<span class="hbar-cell hbar-{cell.level}"></span>' for cell in cells)
        )
    # Each cell is a list item named by its explanation: the title shows it on hover, the
    # aria-label reads it to screen readers (a title alone is not reliably announced).
    parts = []
    for cell in cells:
        text = escape(cell.title)
        parts.append(
            f'<span class="hbar-cell hbar-{cell.level}" role="listitem" title="{text}" '
            f'aria-label="{text}" data-day="{cell.day.isoformat()}"></span>'
        )
    return mark_safe("".join(parts))  # noqa: S308 (the only variable text is escaped here)
