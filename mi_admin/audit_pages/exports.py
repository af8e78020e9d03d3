"""Streaming CSV and JSON exports of the (filtered) audit trail, for auditors' tools."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet

from mi_admin.audit.models import AuditEvent
from mi_admin.ui.csv_export import csv_lines

COLUMNS = [
    "id",
    "created_at",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "before",
    "after",
    "ip",
    "user_agent",
    "request_id",
    "prev_hash",
    "hash",
]


def _row(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "created_at": event.created_at.isoformat(),
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "before": event.before,
        "after": event.after,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def csv_rows(events: QuerySet[AuditEvent]) -> Iterator[str]:
    return csv_lines(COLUMNS, (_row(event) for event in events.iterator(chunk_size=1000)))


def json_chunks(events: QuerySet[AuditEvent]) -> Iterable[str]:
    yield "["
    for index, event in enumerate(events.iterator(chunk_size=1000)):
        yield ("," if index else "") + json.dumps(_row(event), sort_keys=True)
    yield "]"
