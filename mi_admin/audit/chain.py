"""The hash chain: how an audit event's hash is computed from its content.

A row's hash must be a function of exactly what the database stores, or ``audit_verify``
reports tampering on an honest row. So nothing is hashed as given: :func:`stored_form`
turns every value into the form PostgreSQL gives back (ids as text, text cut to the
column's length, JSON after a ``jsonb`` round trip, addresses as ``inet`` prints them), the
row is written with those values, and verification re-hashes the values it reads.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

GENESIS = "0" * 64

# Column lengths of AuditEvent (kept here so hashing needs no model import; a test checks
# they match the model).
TEXT_LIMITS = {
    "actor_label": 255,
    "action": 64,
    "object_type": 64,
    "object_id": 64,
    "object_repr": 255,
    "user_agent": 512,
    "request_id": 128,
}


def _clean_text(value: str) -> str:
    # PostgreSQL text and jsonb refuse NUL; an attacker-supplied NUL must not become a 500.
    return value.replace("\x00", "\ufffd")


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)  # jsonb has no NaN / Infinity
        # jsonb stores numbers as numeric: 1e+16 comes back as the integer 10000000000000000,
        # and numeric has no negative zero.
        if value == 0:
            return 0.0
        return int(Decimal(repr(value))) if "e+" in repr(value) else value
    if isinstance(value, dict):
        return {_clean_text(str(k)): _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def json_safe(value: Any) -> Any:
    """What a JSONField gives back after a round trip through ``jsonb``."""
    if value is None:
        return None
    return _json_value(json.loads(json.dumps(value, default=str)))


def canonical_ip(value: object) -> str | None:
    """The address as PostgreSQL's ``inet`` prints it, or None for anything not an address.

    Python and PostgreSQL agree on compressed lower-case IPv6 except for addresses with an
    embedded IPv4 part, which PostgreSQL prints dotted (``::ffff:1.2.3.4``, ``::1.2.3.4``).
    """
    if value is None:
        return None
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.scope_id:  # fe80::1%eth0: inet has no zone index
        return None
    words = [int.from_bytes(address.packed[i : i + 2], "big") for i in range(0, 16, 2)]
    tail = ipaddress.IPv4Address(address.packed[12:])
    if words[:6] == [0] * 6 and words[6] != 0:
        return f"::{tail}"
    if words[:5] == [0] * 5 and words[5] == 0xFFFF:
        return f"::ffff:{tail}"
    return str(address)


def stored_form(
    *,
    created_at: datetime,
    actor_id: int | None,
    actor_label: object,
    action: object,
    object_type: object,
    object_id: object,
    object_repr: object,
    before: Any,
    after: Any,
    ip: object,
    user_agent: object,
    request_id: object,
) -> dict[str, Any]:
    """Every field of an event exactly as the database will store and return it."""
    text = {
        name: _clean_text("" if value is None else str(value))[: TEXT_LIMITS[name]]
        for name, value in (
            ("actor_label", actor_label),
            ("action", action),
            ("object_type", object_type),
            ("object_id", object_id),
            ("object_repr", object_repr),
            ("user_agent", user_agent),
            ("request_id", request_id),
        )
    }
    return {
        # timestamptz keeps microseconds; the connection reads it back in UTC.
        "created_at": created_at.astimezone(UTC),
        "actor_id": None if actor_id is None else int(actor_id),
        **text,
        "before": json_safe(before),
        "after": json_safe(after),
        "ip": canonical_ip(ip),
    }


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
    """The hash of a row's stored values (pass them through :func:`stored_form` first)."""
    payload = json.dumps(
        [
            prev_hash,
            created_at.astimezone(UTC).isoformat(timespec="microseconds"),
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
