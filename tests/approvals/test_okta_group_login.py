"""Named Okta groups as reviewers, through the real login: an Okta login (IdP subprocess ↔
live MI Admin) copies the Okta groups that approval steps name onto the person, so someone in
such a group can review, and someone who left it no longer can."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from idp import subject_for
from idp.process import IdpProcess
from mi_admin.accounts.models import User
from mi_admin.accounts.okta_client import OktaClient
from mi_admin.approvals.choices import Decision
from mi_admin.approvals.eligibility import review_refusal
from mi_admin.approvals.models import ApprovalStep
from mi_admin.approvals.selectors import approval_inbox
from mi_admin.approvals.services import ApprovalError, approval_review_submit
from mi_admin.audit.models import AuditEvent
from tests.approvals.conftest import (
    SECURITY_GROUP,
    SECURITY_STEP,
    StepSpec,
    file_request,
    make_person,
    make_policy,
)

Login = Callable[..., requests.Response]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def manager_groups(oidc_settings: IdpProcess) -> Iterator[IdpProcess]:
    """The tests change the manager persona's Okta groups (one IdP per session)."""
    yield oidc_settings
    oidc_settings.set_groups("manager", ["mi-managers"])


def groups_of(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def login_as_manager(okta_login: Login, live_server: LiveServer) -> User:
    response = okta_login(requests.Session(), live_server.url, "manager")
    assert response.url == f"{live_server.url}/"
    return User.objects.get(oidc_sub=subject_for("manager"))


def test_a_member_of_a_named_okta_group_reviews_until_they_leave_it(
    live_server: LiveServer, okta_login: Login, manager_groups: IdpProcess, decisions
) -> None:
    # given a policy whose step is reviewed by the Okta group security-reviewers, and a
    # request waiting for it
    policy = make_policy(SECURITY_STEP)
    request = file_request(policy, make_person("requester"))
    # and the manager in that Okta group (and in one no step names)
    manager_groups.set_groups("manager", ["mi-managers", SECURITY_GROUP, "okta-everyone"])
    # when they log in
    manager = login_as_manager(okta_login, live_server)
    # then the named group was copied onto them, the unnamed one was not
    assert groups_of(manager) == {"mi-managers", SECURITY_GROUP}
    # and they may review: the request is in their inbox and the service takes the review
    assert list(approval_inbox(user=manager)) == [request]
    assert review_refusal(request, manager, already_reviewed=False) is None
    # when Okta takes them out of the group (through Okta's Groups API) and they log in again
    okta = OktaClient(
        org_url=manager_groups.base_url, api_token=manager_groups.api_token, timeout=5
    )
    okta.group_member_remove(okta.group_find(SECURITY_GROUP).id, subject_for("manager"))
    manager = login_as_manager(okta_login, live_server)
    # then the group is gone from MI Admin too, and they can no longer review
    assert groups_of(manager) == {"mi-managers"}
    assert list(approval_inbox(user=manager)) == []
    assert "you are not one of them" in (
        review_refusal(request, manager, already_reviewed=False) or ""
    )
    with pytest.raises(ApprovalError, match="you are not one of them"):
        approval_review_submit(request=request, reviewer=manager, decision=Decision.APPROVE)
    # and both changes were audited as Okta's
    changes = AuditEvent.objects.filter(
        action="auth.groups_changed", object_id=str(manager.pk)
    ).order_by("id")
    assert [(e.after or {})["groups"] for e in changes] == [
        ["mi-managers", SECURITY_GROUP],
        ["mi-managers"],
    ]


def test_a_group_taken_out_of_the_policy_still_reviews_what_was_filed_under_it(
    live_server: LiveServer, okta_login: Login, manager_groups: IdpProcess, decisions
) -> None:
    # given a request filed while the step named the group, then the policy edited
    policy = make_policy(SECURITY_STEP)
    request = file_request(policy, make_person("requester"))
    ApprovalStep.objects.filter(policy=policy).update(
        okta_groups=["someone-else"], reviewer_roles=[]
    )
    manager_groups.set_groups("manager", ["mi-managers", SECURITY_GROUP])
    # when the manager logs in, then the pending request's frozen step keeps the group mirrored
    manager = login_as_manager(okta_login, live_server)
    assert SECURITY_GROUP in groups_of(manager)
    assert review_refusal(request, manager, already_reviewed=False) is None


def test_naming_a_role_group_as_an_okta_group_never_hands_out_the_role(
    live_server: LiveServer,
    okta_login: Login,
    manager_groups: IdpProcess,
    settings: Settings,
    decisions,
) -> None:
    # given Okta's admin group configured as okta-admins, and a step that names "mi-admins"
    # (the Django name of the Admin role) as an Okta group
    settings.OIDC_ROLE_GROUPS = {**settings.OIDC_ROLE_GROUPS, "mi-admins": "okta-admins"}
    make_policy(StepSpec("Odd", groups=("mi-admins",)))
    manager_groups.set_groups("manager", ["mi-managers", "mi-admins"])
    # when a manager in an Okta group called mi-admins logs in
    manager = login_as_manager(okta_login, live_server)
    # then they are no Admin: role groups come only from the role mapping
    assert groups_of(manager) == {"mi-managers"}
    assert not manager.is_staff
