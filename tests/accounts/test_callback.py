"""The Okta callback refuses what it cannot trust, tells the person, and audits the reason."""

from __future__ import annotations

import pytest
from django.test import Client

from mi_admin.accounts.models import User
from mi_admin.audit.models import AuditEvent


def test_a_callback_with_an_unknown_state_is_refused_and_audited(client: Client, db: None) -> None:
    # given: a callback this browser never started (replayed, or a stale tab)
    # when
    response = client.get(
        "/oidc/callback/", {"code": "stolen-code", "state": "forged"}, follow=True
    )
    # then
    assert response.redirect_chain == [("/login/", 302)]
    assert "expired" in response.content.decode()
    assert "_auth_user_id" not in client.session
    failure = AuditEvent.objects.get(action="auth.login_failed")
    assert failure.after == {"reason": "unknown or already used state"}


def test_an_error_from_the_provider_is_audited(client: Client, db: None) -> None:
    # when
    response = client.get(
        "/oidc/callback/",
        {"error": "access_denied", "error_description": "User is not assigned", "state": "s"},
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    failure = AuditEvent.objects.get(action="auth.login_failed")
    assert failure.after == {"reason": "provider answered access_denied: User is not assigned"}


def test_an_ended_okta_session_is_not_counted_as_a_failed_login(client: Client, db: None) -> None:
    # when: the silent check (prompt=none) comes back with login_required
    response = client.get("/oidc/callback/", {"error": "login_required", "state": "s"}, follow=True)
    # then
    assert "Okta session has ended" in response.content.decode()
    assert not AuditEvent.objects.filter(action="auth.login_failed").exists()


@pytest.mark.parametrize(
    "error", ["consent_required", "interaction_required", "account_selection_required"]
)
def test_a_silent_check_needing_the_person_sends_them_to_sign_in_unaudited(
    client: Client, devops: User, error: str
) -> None:
    # given: signed in, and the silent re-check (prompt=none) needs the person
    client.force_login(devops)
    # when
    response = client.get("/oidc/callback/", {"error": error, "state": "s"}, follow=True)
    # then: signed out, on the login page, asked to sign in again; not a failed login
    assert response.redirect_chain[-1][0] == "/login/"
    assert "Okta needs you to sign in again" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not AuditEvent.objects.filter(action="auth.login_failed").exists()
