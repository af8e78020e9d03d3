"""Break-glass local accounts: off by default; when on, password AND a TOTP code, audited
and flagged in the session.

The URLs under /break-glass/ exist only when BREAK_GLASS_ENABLED is on at start-up: the
``break_glass_on`` fixture turns the setting on and rebuilds the URLconf (and again after).
"""

from __future__ import annotations

import time

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group
from django.test import Client

from mi_admin.accounts.models import User
from mi_admin.audit.models import AuditEvent
from tests.fixtures.breakglass import create_break_glass_account, totp


def create_account(username: str, role: str = "mi-devops") -> tuple[User, str, str]:
    account = create_break_glass_account(username, role)
    assert "otpauth://totp/" in account.output
    return account.user, account.password, account.secret


def logged_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def test_break_glass_is_off_by_default(client: Client, db: None) -> None:
    # when
    response = client.get("/break-glass/login/")
    login_page = client.get("/login/")
    # then
    assert response.status_code == 404
    assert "Break-glass" not in login_page.content.decode()


def test_the_command_creates_an_account_with_role_password_and_totp(db: None) -> None:
    # when
    user, password, _ = create_account("bg-create", role="mi-admins")
    # then
    assert user.is_break_glass
    assert user.is_staff
    assert user.check_password(password)
    assert len(password) >= 30
    assert set(user.groups.values_list("name", flat=True)) == {"mi-admins"}
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    created = AuditEvent.objects.get(action="auth.break_glass_created")
    assert created.after == {"username": "bg-create", "role": "mi-admins", "mfa": "totp"}


def test_password_alone_is_not_enough(client: Client, db: None, break_glass_on: None) -> None:
    # given
    _, password, _ = create_account("bg-pw-only")
    # when
    response = client.post("/break-glass/login/", {"login": "bg-pw-only", "password": password})
    # then: asked for the code, not signed in
    assert response.status_code == 302
    assert response["Location"] == "/break-glass/2fa/authenticate/"
    assert logged_in_user_id(client) is None
    assert client.get("/").status_code == 302


def test_password_and_totp_code_sign_in_flagged_and_audited(
    client: Client, db: None, break_glass_on: None
) -> None:
    # given
    user, password, secret = create_account("bg-ops")
    client.post("/break-glass/login/", {"login": "bg-ops", "password": password})
    # when
    response = client.post("/break-glass/2fa/authenticate/", {"code": totp(secret)})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert logged_in_user_id(client) == str(user.pk)
    assert client.session["break_glass"] is True
    event = AuditEvent.objects.get(action="auth.break_glass_login")
    assert event.object_id == str(user.pk)
    assert event.after == {"roles": ["mi-devops"], "mfa": "totp"}
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "Break-glass session" in dashboard.content.decode()


def test_a_wrong_totp_code_does_not_sign_in(client: Client, db: None, break_glass_on: None) -> None:
    # given
    _, password, secret = create_account("bg-wrong-code")
    client.post("/break-glass/login/", {"login": "bg-wrong-code", "password": password})
    # when
    client.post("/break-glass/2fa/authenticate/", {"code": totp(secret, at=time.time() - 300)})
    # then
    assert logged_in_user_id(client) is None


def test_an_account_without_totp_cannot_sign_in(
    client: Client, db: None, break_glass_on: None
) -> None:
    # given: a break-glass account someone made by hand, without an authenticator
    user = User.objects.create_user(
        "bg-no-totp", password="correct horse battery staple", is_break_glass=True
    )
    user.groups.add(Group.objects.create(name="mi-devops"))
    # when
    response = client.post(
        "/break-glass/login/",
        {"login": "bg-no-totp", "password": "correct horse battery staple"},
        follow=True,
    )
    # then
    assert logged_in_user_id(client) is None
    assert "no authenticator app" in response.content.decode()
    failure = AuditEvent.objects.get(action="auth.login_failed")
    assert failure.after == {
        "username": "bg-no-totp",
        "reason": "break-glass account has no TOTP authenticator",
    }


def test_an_okta_user_with_a_password_cannot_use_break_glass(
    client: Client, db: None, break_glass_on: None
) -> None:
    # given
    User.objects.create_user("okta-person", password="correct horse battery staple")
    # when
    client.post(
        "/break-glass/login/", {"login": "okta-person", "password": "correct horse battery staple"}
    )
    # then
    assert logged_in_user_id(client) is None
    failure = AuditEvent.objects.get(action="auth.login_failed")
    assert (failure.after or {})["reason"] == "not a break-glass account"


def test_sign_up_is_closed(client: Client, db: None, break_glass_on: None) -> None:
    # when
    response = client.post("/break-glass/signup/", {"username": "intruder", "password1": "x" * 20})
    # then
    assert not User.objects.filter(username="intruder").exists()
    assert "Sign Up Closed" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    ["/break-glass/password/set/", "/break-glass/2fa/totp/activate/", "/break-glass/email/"],
)
def test_only_the_sign_in_steps_of_allauth_are_served(
    client: Client, db: None, break_glass_on: None, path: str
) -> None:
    # given: an Okta user (no local password), signed in
    client.force_login(User.objects.create_user("okta-user"))
    # when
    response = client.get(path)
    # then
    assert response.status_code == 404


def test_django_admins_login_form_does_not_accept_a_break_glass_password(
    client: Client, db: None, break_glass_on: None
) -> None:
    # given: a break-glass admin (staff, so the admin site would let them in)
    user, password, _ = create_account("bg-admin", role="mi-admins")
    assert user.is_staff
    # when: password only, through the admin site's own form
    client.post("/admin/login/", {"username": "bg-admin", "password": password})
    # then
    assert logged_in_user_id(client) is None
