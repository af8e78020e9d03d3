"""X-Request-ID: believed only from our proxies and only in a plain format; otherwise a fresh
id. Either way the id is echoed and is the one the request's audit events carry."""

from __future__ import annotations

import re

import pytest

from mi_admin.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"[0-9a-f]{32}")
PROXY_ID = "lb-7f3a.2b_9-c"


def _admin_add_customer(client, slug: str, request_id: str, remote_addr: str):
    """An audited request (an Admin adds a customer in Django admin)."""
    response = client.post(
        "/admin/instances/customer/add/",
        {"name": slug.title(), "slug": slug, "region": ""},
        HTTP_X_REQUEST_ID=request_id,
        REMOTE_ADDR=remote_addr,
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="admin.add", object_repr=slug.title())
    return response, event


def test_a_trusted_proxys_request_id_is_kept_echoed_and_audited(client_for, settings):
    # given one trusted proxy in front of us
    settings.TRUSTED_PROXY_COUNT = 1
    # when a request comes through it with the proxy's id
    response, event = _admin_add_customer(client_for("admin"), "acme", PROXY_ID, "10.0.0.5")
    # then that id is echoed and filed with the request's audit event
    assert response["X-Request-ID"] == PROXY_ID
    assert event.request_id == PROXY_ID


def test_a_request_id_from_a_trusted_proxy_network_is_kept(client_for, settings):
    # given proxies recognised by their network
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8"]
    client = client_for("admin")
    # when one request comes from inside that network and one from outside it
    inside, _ = _admin_add_customer(client, "inside", PROXY_ID, "10.1.2.3")
    outside, event = _admin_add_customer(client, "outside", PROXY_ID, "203.0.113.9")
    # then only the proxy's id is kept
    assert inside["X-Request-ID"] == PROXY_ID
    assert GENERATED.fullmatch(outside["X-Request-ID"])
    assert event.request_id == outside["X-Request-ID"]


def test_a_request_id_forged_by_a_client_is_replaced(client_for, settings):
    # given no trusted proxy (clients talk to us directly)
    settings.TRUSTED_PROXY_COUNT = 0
    settings.TRUSTED_PROXY_NETWORKS = []
    # when a client sends a well-formed id of its choosing
    response, event = _admin_add_customer(client_for("admin"), "acme", PROXY_ID, "203.0.113.9")
    # then a fresh id is used, echoed and audited instead
    assert response["X-Request-ID"] != PROXY_ID
    assert GENERATED.fullmatch(response["X-Request-ID"])
    assert event.request_id == response["X-Request-ID"]


@pytest.mark.parametrize(
    "malformed",
    ["", "has space", "a" * 65, "req:1", "req;drop", "req-1\n", "reqé", "<script>"],
)
def test_a_malformed_request_id_is_replaced_even_from_a_trusted_proxy(
    client_for, settings, malformed
):
    # given a trusted proxy
    settings.TRUSTED_PROXY_COUNT = 1
    # when the id it passes on is not in the plain format
    response, event = _admin_add_customer(client_for("admin"), "acme", malformed, "10.0.0.5")
    # then a fresh id is used, echoed and audited instead
    assert GENERATED.fullmatch(response["X-Request-ID"])
    assert event.request_id == response["X-Request-ID"]


def test_the_longest_plain_request_id_is_kept(client_for, settings):
    # given a trusted proxy; when it passes on a 64-character id, then it is kept
    settings.TRUSTED_PROXY_COUNT = 1
    response, _ = _admin_add_customer(client_for("admin"), "acme", "a" * 64, "10.0.0.5")
    assert response["X-Request-ID"] == "a" * 64
