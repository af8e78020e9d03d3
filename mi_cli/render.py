"""Output for people (aligned tables, key: value blocks) and for scripts (``--json``), and the
parsing of human arguments (durations)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TextIO

Column = tuple[str, Callable[[dict[str, Any]], Any]]

_DURATION = re.compile(r"(\d+)\s*([dhm])", re.IGNORECASE)
_UNIT_MINUTES = {"d": 24 * 60, "h": 60, "m": 1}


def parse_duration(text: str) -> int:
    """Minutes in ``1h``, ``90m``, ``1h30m``, ``2d`` or a bare number of minutes; ValueError
    for anything else, zero included."""
    value = text.strip().lower().replace(" ", "")
    if value.isdigit():
        minutes = int(value)
    else:
        parts = _DURATION.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise ValueError(f"{text!r} is not a duration (e.g. 30m, 1h, 1h30m, 2d)")
        units = [u for _, u in parts]
        if len(set(units)) != len(units):
            raise ValueError(f"{text!r} repeats a unit")
        minutes = sum(int(n) * _UNIT_MINUTES[u] for n, u in parts)
    if minutes <= 0:
        raise ValueError(f"{text!r} is no time at all")
    return minutes


def cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())  # one line per row, whatever the value holds


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    """Left-aligned columns under upper-case headers, two spaces apart, no trailing blanks."""
    headers = [name.upper() for name, _ in columns]
    body = [[cell(get(row)) for _, get in columns] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(value.ljust(widths[i]) for i, value in enumerate(line)).rstrip()
        for line in [headers, *body]
    ]
    return "\n".join(lines)


def key_values(pairs: Sequence[tuple[str, Any]]) -> str:
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{(k + ':').ljust(width + 1)} {cell(v)}" for k, v in pairs)


def dump_json(data: Any, out: TextIO) -> None:
    json.dump(data, out, indent=2, sort_keys=False)
    out.write("\n")


def dig(row: dict[str, Any], path: str) -> Any:
    """``dig(row, "health.state")``: a nested value, None when any part is missing."""
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
