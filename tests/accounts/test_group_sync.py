"""A real Okta-style login round trip (IdP subprocess ↔ live MI Admin) maps groups to roles.

Each login adds and removes role memberships to match the id_token's groups; memberships
of other Django groups are left alone; every change is audited.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from django.contrib.auth.models import Group
from pytest_django.live_server_helper import LiveServer

from idp import subject_for
from idp.process import IdpProcess
from mi_admin.accounts.models import User
from mi_admin.audit.models import AuditEvent

Login = Callable[..., requests.Response]


@pytest.fixture
def devops_groups_restored(oidc_settings: IdpProcess):
    """Tests here change the IdP's groups (one IdP per session): put them back after."""
    yield
    oidc_settings.set_groups("devops", ["mi-devops"])


def role_names(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_first_login_creates_the_user_matched_on_sub_with_their_role(
    live_server: LiveServer, okta_login: Login
) -> None:
    # given: nobody in MI Admin yet
    assert not User.objects.exists()
    # when
    response = okta_login(requests.Session(), live_server.url, "devops")
    # then
    assert response.status_code == 200
    assert response.url == f"{live_server.url}/"
    user = User.objects.get(oidc_sub=subject_for("devops"))
    assert user.username == "devops@example.com"
    assert user.display_name == "Dana Devops"
    assert user.email == "devops@example.com"
    assert not user.has_usable_password()
    assert role_names(user) == {"mi-devops"}
    assert not user.is_staff
    assert "Dana Devops" in response.text


def test_groups_changed_at_okta_are_added_and_removed_at_the_next_login(
    live_server: LiveServer, okta_login: Login, oidc_settings: IdpProcess, devops_groups_restored
) -> None:
    # given: devops has logged in once, and is also in a Django group Okta knows nothing of
    okta_login(requests.Session(), live_server.url, "devops")
    user = User.objects.get(oidc_sub=subject_for("devops"))
    user.groups.add(Group.objects.create(name="beta-testers"))
    # when: Okta moves them from DevOps to Managers + Admins, and they log in again
    oidc_settings.set_groups("devops", ["mi-managers", "mi-admins", "unrelated-okta-group"])
    response = okta_login(requests.Session(), live_server.url, "devops")
    # then
    assert response.url == f"{live_server.url}/"
    user.refresh_from_db()
    assert role_names(user) == {"mi-managers", "mi-admins", "beta-testers"}
    assert user.is_staff
    assert User.objects.filter(oidc_sub=subject_for("devops")).count() == 1
    changes = AuditEvent.objects.filter(
        action="auth.groups_changed", object_id=str(user.pk)
    ).order_by("id")
    assert [((e.before or {})["groups"], (e.after or {})["groups"]) for e in changes] == [
        ([], ["mi-devops"]),
        (["mi-devops"], ["mi-admins", "mi-managers"]),
    ]
    assert (changes[1].after or {})["is_staff"] is True


def test_an_unchanged_login_writes_no_group_change(
    live_server: LiveServer, okta_login: Login
) -> None:
    # given
    okta_login(requests.Session(), live_server.url, "ce")
    # when
    okta_login(requests.Session(), live_server.url, "ce")
    # then
    user = User.objects.get(oidc_sub=subject_for("ce"))
    assert (
        AuditEvent.objects.filter(action="auth.groups_changed", object_id=str(user.pk)).count() == 1
    )
    assert AuditEvent.objects.filter(action="auth.login", object_id=str(user.pk)).count() == 2


def test_removing_every_group_at_okta_removes_every_role(
    live_server: LiveServer, okta_login: Login, oidc_settings: IdpProcess, devops_groups_restored
) -> None:
    # given
    okta_login(requests.Session(), live_server.url, "devops")
    oidc_settings.set_groups("devops", [])
    # when
    response = okta_login(requests.Session(), live_server.url, "devops")
    # then: signed in, but with no role MI Admin shows nothing
    assert response.status_code == 403
    assert role_names(User.objects.get(oidc_sub=subject_for("devops"))) == set()


def test_a_login_failing_the_token_checks_is_refused_and_audited_with_the_reason(
    live_server: LiveServer, okta_login: Login, settings
) -> None:
    # given: MI Admin expects another issuer than the one signing the tokens
    settings.OIDC_ISSUER = "https://example.okta.com"
    # when
    response = okta_login(requests.Session(), live_server.url, "devops")
    # then
    assert response.url == f"{live_server.url}/login/"
    assert "did not complete" in response.text
    assert not User.objects.exists()
    failure = AuditEvent.objects.get(action="auth.login_failed")
    assert "issuer" in (failure.after or {})["reason"]


def test_a_deactivated_user_cannot_log_in_through_okta(
    live_server: LiveServer, okta_login: Login
) -> None:
    # given
    okta_login(requests.Session(), live_server.url, "manager")
    User.objects.filter(oidc_sub=subject_for("manager")).update(is_active=False)
    # when
    response = okta_login(requests.Session(), live_server.url, "manager")
    # then
    assert response.url == f"{live_server.url}/login/"
    failure = AuditEvent.objects.filter(action="auth.login_failed").get()
    assert failure.after == {
        "reason": "account is deactivated in MI Admin",
        "sub": subject_for("manager"),
        "username": "manager@example.com",
    }
