"""The client's address: X-Forwarded-For counts only when our own proxies wrote it.

The audit trail records the address every request's events came from; a forged or garbage
header must neither change it nor cost the event.
"""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from pytest_django import Settings

from mi_admin.audit.models import AuditEvent
from mi_admin.http import canonical_ip, client_ip, same_site_path


def ip_of(rf: RequestFactory, *, remote: str, xff: str | None = None) -> str | None:
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return client_ip(rf.get("/", **extra))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("203.0.113.7:5123", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::1"),
        ("not-an-ip", None),
        ("203.0.113.999", None),
        ("", None),
        ("<script>", None),
    ],
)
def test_addresses_are_canonical_or_none(raw: str, expected: str | None) -> None:
    assert canonical_ip(raw) == expected


def test_without_trusted_proxies_the_header_is_ignored(rf: RequestFactory) -> None:
    # given the default: no proxy is trusted
    # when a client sends its own X-Forwarded-For
    ip = ip_of(rf, remote="198.51.100.20", xff="10.9.8.7")
    # then the peer address is the client
    assert ip == "198.51.100.20"


def test_one_trusted_proxy_gives_the_address_it_appended(
    rf: RequestFactory, settings: Settings
) -> None:
    # given one proxy in front of us, and a client that forged an entry before it
    settings.TRUSTED_PROXY_COUNT = 1
    # when
    ip = ip_of(rf, remote="10.0.0.2", xff="1.2.3.4, 203.0.113.7")
    # then the proxy's own entry wins, the forged one is ignored
    assert ip == "203.0.113.7"


def test_two_trusted_proxies(rf: RequestFactory, settings: Settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 2
    assert ip_of(rf, remote="10.0.0.3", xff="6.6.6.6, 203.0.113.7, 10.0.0.2") == "203.0.113.7"


def test_proxy_networks_are_walked_from_the_right(rf: RequestFactory, settings: Settings) -> None:
    # given proxies recognised by network, not by count
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8", "fd00::/8"]
    # then every hop sent from a proxy network vouches for the one before it
    assert ip_of(rf, remote="10.0.0.3", xff="6.6.6.6, 203.0.113.7, 10.1.1.1") == "203.0.113.7"
    assert ip_of(rf, remote="fd00::3", xff="2001:DB8::5") == "2001:db8::5"
    # and a peer outside them is the client, whatever it claims
    assert ip_of(rf, remote="198.51.100.20", xff="10.0.0.1") == "198.51.100.20"


def test_a_malformed_entry_is_ignored(rf: RequestFactory, settings: Settings) -> None:
    # given one trusted proxy that passed on garbage
    settings.TRUSTED_PROXY_COUNT = 1
    # then the last address we can trust is used: the proxy's own
    assert ip_of(rf, remote="10.0.0.2", xff="not-an-ip") == "10.0.0.2"
    assert ip_of(rf, remote="10.0.0.2", xff="203.0.113.7, ") == "10.0.0.2"


def test_forged_header_from_an_untrusted_peer_does_not_reach_the_audit_trail(
    client: Client, db: None, settings: Settings
) -> None:
    # given proxies only on 10.0.0.0/8, and a request straight from 127.0.0.1
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8"]
    # when the caller claims to be someone else and fails to log in
    client.get(
        "/oidc/callback/",
        {"error": "access_denied", "state": "s"},
        HTTP_X_FORWARDED_FOR="203.0.113.66",
    )
    # then the event names the real peer
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.ip == "127.0.0.1"


def test_malformed_header_from_a_trusted_proxy_answers_and_keeps_the_failed_login(
    client: Client, db: None, settings: Settings
) -> None:
    # given a trusted proxy (127.0.0.1 here) passing on a value that is not an address
    settings.TRUSTED_PROXY_COUNT = 1
    # when a login fails through it
    response = client.get(
        "/oidc/callback/",
        {"error": "access_denied", "state": "s"},
        HTTP_X_FORWARDED_FOR="'; DROP TABLE x; --",
    )
    # then no 500, and the failed login is recorded with the proxy's address
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.ip == "127.0.0.1"


def test_a_trusted_proxy_names_the_client_in_the_audit_trail(
    client: Client, db: None, settings: Settings
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    client.get(
        "/oidc/callback/",
        {"error": "access_denied", "state": "s"},
        HTTP_X_FORWARDED_FOR="6.6.6.6, 2001:DB8::9",
    )
    assert AuditEvent.objects.get(action="auth.login_failed").ip == "2001:db8::9"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("http://testserver/audit/?page=2", "/audit/?page=2"),
        ("/instances/", "/instances/"),
        ("//other.host/x", None),
        ("http://testserver//other.host/x", None),
        ("http://testserver/\\other.host", None),
        ("https://other.host/audit/", None),
        ("javascript:alert(1)", None),
        ("http://testserver/a\nb", None),
        ("", None),
    ],
)
def test_only_same_site_paths_are_redirect_targets(
    rf: RequestFactory, header: str, expected: str | None
) -> None:
    assert same_site_path(header, rf.get("/")) == expected
