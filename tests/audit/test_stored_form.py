"""The hash covers exactly what the database stores (issues 7 and 8.7): whatever a caller
passes, the row written verifies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from mi_admin.audit.chain import TEXT_LIMITS, canonical_ip
from mi_admin.audit.context import request_context
from mi_admin.audit.models import AuditEvent
from mi_admin.audit.selectors import audit_chain_verify
from mi_admin.audit.services import audit_record

TRICKY_ADDRESSES = [
    "2001:DB8::0001",
    "2001:0db8:0000:0000:0001:0000:0000:0001",
    "::FFFF:1.2.3.4",
    "::ffff:0102:0304",
    "::1.2.3.4",
    "0:0:0:0:0:0:0:1",
    "::",
    "64:FF9B::1.2.3.4",
    "FE80::ABCD",
    " 10.0.0.1 ",
]


def _pg_inet(value: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT host(%s::inet)", [value.strip()])
        return str(cursor.fetchone()[0])


@pytest.mark.parametrize("address", TRICKY_ADDRESSES)
def test_an_address_is_hashed_as_postgresql_stores_it(db, address):
    # given a request from an address written in a non-canonical way
    with request_context(ip=address):
        # when an event is recorded
        event = audit_record(action="test.ip")
    # then the row holds PostgreSQL's form of it, and the chain verifies
    stored = AuditEvent.objects.get(id=event.id).ip
    assert stored == _pg_inet(address) == canonical_ip(address)
    assert audit_chain_verify().ok


@pytest.mark.parametrize(
    "garbage", ["not-an-ip", "fe80::1%eth0", "1.2.3.4:8080", "", "1.2.3.4, 5.6.7.8", "01.2.3.4"]
)
def test_an_invalid_address_is_dropped_not_a_500(db, garbage):
    # given a request whose address is not one; when an event is recorded
    with request_context(ip=garbage):
        event = audit_record(action="test.ip")
    # then it is kept without an address
    assert AuditEvent.objects.get(id=event.id).ip is None
    assert audit_chain_verify().ok


def test_an_ipv6_x_forwarded_for_leaves_the_chain_intact(client_for):
    # given an anonymous request through a proxy that wrote IPv6 in upper case
    client = Client()
    # when it causes an event (a failed login: an Okta callback this browser never started)
    client.get(
        "/oidc/callback/",
        {"code": "stolen-code", "state": "forged"},
        HTTP_X_FORWARDED_FOR="2001:DB8::00AB",
        REMOTE_ADDR="2001:DB8:0:0::0001",
    )
    # then the event is there with a canonical address and audit_verify stays green
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.ip in {"2001:db8::ab", "2001:db8::1"}
    call_command("audit_verify")  # exits 1 on any break


def test_values_of_any_type_are_hashed_as_stored(db):
    # given values whose stored form differs from what Python passes in
    odd: dict[Any, Any] = {
        "big_float": 1e16,
        "small_float": 1e-7,
        "not_a_number": float("nan"),
        "infinite": float("inf"),
        "one_point_oh": 1.0,
        "huge_int": 10**40,
        "decimal": Decimal("1.10"),
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC),
        "nul": "a\x00b",
        "unicode": "zoë ✓",
        "nested": {"b": [1, {"z": None}], "a": True},
        7: "integer key",
    }
    # when they are recorded, with an integer object id and over-long texts
    event = audit_record(
        action="test.types",
        object_type="test.widget",
        object_id=10**70,  # type: ignore[arg-type]
        object_repr="r" * 400,
        actor_label="\x00" + "l" * 300,
        before=odd,
        after={"list": [1.5e300, -0.0]},
    )
    # then the row read back hashes to its stored hash
    stored = AuditEvent.objects.get(id=event.id)
    assert len(stored.object_id) == TEXT_LIMITS["object_id"]
    assert len(stored.object_repr) == TEXT_LIMITS["object_repr"]
    assert audit_chain_verify().ok


def test_text_limits_match_the_columns():
    # given the limits the hashing cuts text to; then they are the columns' lengths
    for name, limit in TEXT_LIMITS.items():
        assert getattr(AuditEvent._meta.get_field(name), "max_length", None) == limit, name
