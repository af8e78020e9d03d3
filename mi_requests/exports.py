"""The SLA attainment report as CSV (the same rows as the page)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mi_admin.ui.csv_export import csv_lines
from mi_requests.selectors import KIND_LABELS, attainment_percent

COLUMNS = [
    "month",
    "kind",
    "requests",
    "response_met",
    "response_breached",
    "response_attainment",
    "resolution_met",
    "resolution_breached",
    "resolution_attainment",
    "open",
]


def attainment_csv(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    def lines() -> Iterator[dict[str, Any]]:
        for row in rows:
            yield {
                "month": row["month"].strftime("%Y-%m"),
                "kind": KIND_LABELS.get(row["kind"], row["kind"]),
                "requests": row["total"],
                "response_met": row["response_met"],
                "response_breached": row["response_breached"],
                "response_attainment": attainment_percent(
                    row["response_met"], row["response_breached"]
                ),
                "resolution_met": row["resolution_met"],
                "resolution_breached": row["resolution_breached"],
                "resolution_attainment": attainment_percent(
                    row["resolution_met"], row["resolution_breached"]
                ),
                "open": row["open"],
            }

    return csv_lines(COLUMNS, lines())
