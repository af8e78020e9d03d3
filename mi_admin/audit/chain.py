"""The hash chain: how an audit event's hash is computed from its content."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def json_safe(value: Any) -> Any:
    """What a JSONField gives back after a round trip, so hashes match on re-reading."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str))


def event_hash(
    *,
    prev_hash: str,
    created_at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    object_repr: str,
    before: Any,
    after: Any,
    ip: str | None,
    user_agent: str,
    request_id: str,
) -> str:
    payload = json.dumps(
        [
            prev_hash,
            created_at.isoformat(timespec="microseconds"),
            actor_id,
            actor_label,
            action,
            object_type,
            object_id,
            object_repr,
            before,
            after,
            ip,
            user_agent,
            request_id,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()
