"""CSV of the monthly uptime report, one line per instance (figures as shown on the page)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from health.selectors.monthly import MonthlyUptimeRow
from mi_admin.ui.csv_export import csv_lines

COLUMNS = [
    "month",
    "slug",
    "customer",
    "period_start",
    "period_end",
    "covered_minutes",
    "month_minutes",
    "coverage",
    "uptime_pct",
    "downtime_minutes",
    "incidents",
    "maintenance_hours",
    "quarter_maintenance_hours",
    "maintenance_allowance_hours",
    "over_allowance",
    "sla_target_pct",
    "sla",
]


def _round(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)


def _row(row: MonthlyUptimeRow) -> dict[str, Any]:
    figures = row.figures
    met = figures.sla_met
    return {
        "month": f"{figures.month:%Y-%m}",
        "slug": row.instance.slug,
        "customer": row.instance.customer.name,
        "period_start": figures.period_start.isoformat() if figures.period_start else None,
        "period_end": figures.period_end.isoformat() if figures.period_end else None,
        "covered_minutes": round(figures.covered_minutes),
        "month_minutes": round(figures.month_minutes),
        "coverage": figures.coverage or "whole month",
        "uptime_pct": _round(figures.uptime_pct, 3),
        "downtime_minutes": _round(figures.downtime_minutes, 1),
        "incidents": figures.incidents,
        "maintenance_hours": round(figures.maintenance_hours, 2),
        "quarter_maintenance_hours": round(figures.quarter_maintenance_hours, 2),
        "maintenance_allowance_hours": figures.allowance_hours,
        "over_allowance": figures.over_allowance,
        "sla_target_pct": figures.sla_target_pct,
        "sla": "no data" if met is None else "met" if met else "missed",
    }


def monthly_csv(rows: Sequence[MonthlyUptimeRow]) -> Iterator[str]:
    return csv_lines(COLUMNS, (_row(row) for row in rows))
