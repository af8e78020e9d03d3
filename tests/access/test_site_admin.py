"""Site-admin grants end to end: the approval engine, a real Celery worker, and the Okta
client against the local IdP's Groups API, whose members are read back over HTTP to see what
Okta (and the next id_token's groups claim) would say."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from access.choices import AccessLevelKind, GrantState
from access.models import AccessGrant, AccessLevel
from access.services import (
    AccessError,
    access_grant_end,
    access_grant_extend_request,
    access_grants_sweep,
)
from idp import subject_for
from idp.process import IdpProcess
from instances.choices import OperationKind, OperationState
from instances.models import Operation
from mi_admin.accounts.models import User
from mi_admin.accounts.okta_client import OktaClient
from mi_admin.approvals.choices import Decision
from mi_admin.approvals.models import ApprovalPolicy
from mi_admin.approvals.services import (
    ApprovalError,
    approval_request_withdraw,
    approval_review_submit,
)
from mi_admin.audit.models import AuditEvent
from tests.access.conftest import (
    SITE_ADMIN,
    grant_state,
    make_instance,
    request_grant,
    wait_until,
)
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db(transaction=True)

GROUP = "mi-site-admins"
PEOPLE = ("devops", "admin")


@pytest.fixture
def okta(idp_server: IdpProcess) -> Iterator[OktaClient]:
    """The IdP's Okta API, with nobody in the site-admin group and no fault armed (one IdP
    serves the whole session)."""
    client = OktaClient(org_url=idp_server.base_url, api_token=idp_server.api_token, timeout=5)

    def clear() -> None:
        group = client.group_find(GROUP)
        for name in PEOPLE:
            client.group_member_remove(group.id, subject_for(name))
        idp_server.api_reset()

    clear()
    yield client
    clear()


def is_member(okta: OktaClient, username: str, group: str = GROUP) -> bool:
    return subject_for(username) in okta.group_member_ids(okta.group_find(group).id)


def _approve(grant: AccessGrant, manager: User) -> None:
    assert grant.approval_request is not None
    approval_review_submit(
        request=grant.approval_request, reviewer=manager, decision=Decision.APPROVE
    )


def _settled(grant: AccessGrant) -> bool:
    return not Operation.objects.filter(
        subject=f"access.grant:{grant.pk}", finished_at__isnull=True
    ).exists()


def _site_admin(
    persona, slug: str = "acme-prod", duration: timedelta = timedelta(minutes=30)
) -> AccessGrant:
    return request_grant(
        persona("devops"), make_instance(slug), level_name=SITE_ADMIN, duration=duration
    )


def _active(persona, duration: timedelta = timedelta(minutes=30)) -> AccessGrant:
    grant = _site_admin(persona, duration=duration)
    _approve(grant, persona("manager"))
    wait_until(lambda: grant_state(grant) == GrantState.ACTIVE, what="grant active")
    return grant


def _removed_and_verified(grant: AccessGrant) -> None:
    wait_until(
        lambda: (
            grant_state(grant) is not None
            and grant.binding_verified_removed_at is not None
            and _settled(grant)
        ),
        what="membership removal verified",
    )


def test_an_approved_site_admin_grant_adds_the_membership_and_reads_it_back(
    celery_worker, okta, persona
):
    # given devops asking for site admin on an instance, nobody in the group
    grant = _site_admin(persona)
    assert grant.okta_group == GROUP
    assert grant.member == "devops@example.com"
    assert not is_member(okta, "devops")
    # when a manager approves it
    _approve(grant, persona("manager"))
    # then the worker adds devops to the Okta group, reads it back and starts the clock
    wait_until(lambda: grant_state(grant) == GrantState.ACTIVE, what="grant active")
    assert is_member(okta, "devops")
    assert grant.binding_verified_at is not None
    assert grant.expires_at == grant.activated_at + timedelta(minutes=30)  # type: ignore[operator]
    operation = Operation.objects.get(kind=OperationKind.GRANT, subject=f"access.grant:{grant.pk}")
    assert operation.state == OperationState.SUCCEEDED
    assert [s.name for s in operation.steps.order_by("position")] == [
        "Check the grant and start its clock",
        "Add the Okta group membership",
        "Read the Okta group members back",
        "Mark the grant active",
    ]
    activated = AuditEvent.objects.get(action="access.grant.activated", object_id=str(grant.pk))
    assert (activated.after or {})["okta_group"] == GROUP


def test_the_expiry_task_removes_the_membership_at_expiry(celery_worker, okta, persona):
    # given a site-admin grant of a few seconds (Okta has no expiry: our task ends it)
    grant = _active(persona, duration=timedelta(seconds=3))
    assert is_member(okta, "devops")
    # then at its expiry the worker removes the membership and a read verified it
    _removed_and_verified(grant)
    assert grant.state == GrantState.EXPIRED
    assert not is_member(okta, "devops")
    operation = Operation.objects.get(kind=OperationKind.REVOKE, subject=f"access.grant:{grant.pk}")
    assert operation.state == OperationState.SUCCEEDED
    assert [s.name for s in operation.steps.all()] == [
        "Membership: remove the Okta group membership and read back"
    ]


def test_a_revoke_removes_the_membership(celery_worker, okta, persona, client_for):
    grant = _active(persona)
    # when a manager revokes it
    access_grant_end(
        grant=grant, actor=persona("manager"), state=GrantState.REVOKED, reason="incident over"
    )
    # then the membership is gone, verified by reading the members back
    _removed_and_verified(grant)
    assert grant.state == GrantState.REVOKED
    assert not is_member(okta, "devops")
    actions = list(
        AuditEvent.objects.filter(object_id=str(grant.pk), action__startswith="access.grant.")
        # the holder's notifications are delivered on their own time, between or after these
        .exclude(action="access.grant.notified")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["access.grant.revoked", "access.grant.binding_removed"]
    # and the grant page and the access-review export say which Okta group it was
    page = client_for("manager").get(reverse("access:grant", args=[grant.pk]))
    assert f"<code>{GROUP}</code> for <code>devops@example.com</code>" in page.content.decode()
    export = client_for("admin").get(reverse("access:grant_export", args=["json"]))
    row = json.loads(b"".join(export.streaming_content))[0]
    assert (row["okta_group"], row["member"], row["roles"]) == (GROUP, "devops@example.com", [])
    assert row["binding_removal_verified_at"] is not None


def test_the_sweep_removes_a_membership_whose_expiry_passed_while_no_worker_ran(
    celery_worker, okta, persona
):
    # given an active site-admin grant whose expiry passed while nothing ran
    grant = _active(persona)
    AccessGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert is_member(okta, "devops")
    # when the minute sweep runs
    counts = access_grants_sweep()
    # then it ends the grant and the worker removes and verifies the membership
    assert counts["expired"] == 1
    _removed_and_verified(grant)
    assert grant.state == GrantState.EXPIRED
    assert not is_member(okta, "devops")


def test_approve_racing_revoke_leaves_no_membership(celery_worker, okta, persona):
    grant = _site_admin(persona)
    manager, admin = persona("manager"), persona("admin")
    # when the approval and the revoke happen at once
    results = run_at_once(
        lambda: _approve(grant, manager),
        lambda: access_grant_end(
            grant=AccessGrant.objects.get(pk=grant.pk),
            actor=admin,
            state=GrantState.REVOKED,
            reason="changed my mind",
        ),
    )
    # then both succeeded, the grant is revoked, and once settled nobody is in the group
    assert not any(isinstance(result, Exception) for result in results)
    wait_until(lambda: _settled(grant), what="operations finished")
    assert grant_state(grant) == GrantState.REVOKED
    assert not is_member(okta, "devops")


def test_approve_racing_withdraw_leaves_no_membership_unless_approval_won(
    celery_worker, okta, persona
):
    grant = _site_admin(persona)
    assert grant.approval_request is not None
    approval = grant.approval_request
    # when the manager approves while devops withdraws
    approved, withdrawn = run_at_once(
        lambda: _approve(grant, persona("manager")),
        lambda: approval_request_withdraw(request=approval, actor=persona("devops")),
    )
    wait_until(lambda: _settled(grant), what="operations finished")
    # then exactly one won: withdrawn means no membership; approved means an active grant
    if isinstance(withdrawn, Exception):
        assert isinstance(withdrawn, ApprovalError)
        assert approved is None
        wait_until(lambda: grant_state(grant) == GrantState.ACTIVE, what="grant active")
        assert is_member(okta, "devops")
    else:
        assert isinstance(approved, ApprovalError)
        assert grant_state(grant) == GrantState.WITHDRAWN
        assert not is_member(okta, "devops")


def test_a_revoke_while_the_membership_is_being_added_leaves_none(
    celery_worker, okta, persona, idp_server
):
    # given Okta failing the first add (so activation is retried after a pause)
    idp_server.api_fault("groups.users.put", status=503, count=1)
    grant = _site_admin(persona)
    _approve(grant, persona("manager"))
    wait_until(
        lambda: AccessGrant.objects.get(pk=grant.pk).activated_at is not None,
        what="activation under way",
    )
    # when a manager revokes meanwhile
    access_grant_end(grant=grant, actor=persona("manager"), state=GrantState.REVOKED, reason="r")
    # then, once everything settled, no membership is left and its removal was verified
    _removed_and_verified(grant)
    assert grant.state == GrantState.REVOKED
    assert not is_member(okta, "devops")


def test_a_transient_okta_error_is_retried(celery_worker, okta, persona, idp_server):
    # given Okta answering the next add with 503 and the next member read with 429
    idp_server.api_fault("groups.users.put", status=503, count=1)
    idp_server.api_fault("groups.users.list", status=429, count=1)
    # when a site-admin grant is approved
    grant = _active(persona)
    # then the operation was retried with backoff and the membership is there
    assert is_member(okta, "devops")
    assert idp_server.api_calls("groups.users.put") == 2
    operation = Operation.objects.get(kind=OperationKind.GRANT, subject=f"access.grant:{grant.pk}")
    assert operation.state == OperationState.SUCCEEDED
    assert operation.retry_count == 2
    # and a failing removal is retried too, until a read shows the member gone
    idp_server.api_fault("groups.users.delete", status=500, count=2)
    access_grant_end(grant=grant, actor=persona("devops"), state=GrantState.ENDED_EARLY)
    _removed_and_verified(grant)
    assert not is_member(okta, "devops")
    assert idp_server.api_calls("groups.users.delete") == 3


def test_an_approved_extension_moves_the_expiry_and_keeps_the_membership(
    celery_worker, okta, persona
):
    grant = _active(persona)
    assert grant.expires_at is not None
    old_expiry = grant.expires_at
    # when devops asks for 20 more minutes and a manager approves
    access_grant_extend_request(
        grant=grant, requester=persona("devops"), extra=timedelta(minutes=20), justification="j"
    )
    assert grant.extension_approval is not None
    approval_review_submit(
        request=grant.extension_approval, reviewer=persona("manager"), decision=Decision.APPROVE
    )
    # then the membership was read back and the grant lasts 20 minutes longer
    wait_until(
        lambda: AccessGrant.objects.get(pk=grant.pk).expires_at != old_expiry, what="extended"
    )
    grant.refresh_from_db()
    assert grant.expires_at == old_expiry + timedelta(minutes=20)
    assert grant.state == GrantState.ACTIVE
    assert is_member(okta, "devops")
    operation = Operation.objects.get(subject=f"access.grant:{grant.pk}:extend")
    assert "Read the Okta group members back" in [s.name for s in operation.steps.all()]


def test_a_person_okta_no_longer_has_counts_as_removed(celery_worker, okta, persona):
    # given an active grant whose login Okta does not know (the person was deleted there)
    grant = _active(persona)
    AccessGrant.objects.filter(pk=grant.pk).update(member="gone@example.com")
    # when it is revoked, then the removal is verified (nobody can be a member) and ends
    access_grant_end(grant=grant, actor=persona("manager"), state=GrantState.REVOKED, reason="x")
    _removed_and_verified(grant)
    operation = Operation.objects.get(kind=OperationKind.REVOKE, subject=f"access.grant:{grant.pk}")
    assert operation.state == OperationState.SUCCEEDED
    assert "nothing to remove" in operation.steps.get().detail


def test_a_group_okta_does_not_have_fails_the_activation_clearly(celery_worker, okta, persona):
    # given a level naming a group that does not exist at Okta
    AccessLevel.objects.filter(name=SITE_ADMIN).update(okta_group="mi-no-such-group")
    grant = _site_admin(persona)
    _approve(grant, persona("manager"))
    # then the activation fails (no retry can help) saying which group is missing
    wait_until(lambda: _settled(grant), what="activation finished")
    operation = Operation.objects.get(kind=OperationKind.GRANT, subject=f"access.grant:{grant.pk}")
    assert operation.state == OperationState.FAILED
    assert "Okta has no group named 'mi-no-such-group'" in operation.error
    assert operation.retry_count == 0
    assert grant_state(grant) == GrantState.APPROVED


def test_a_second_site_admin_request_for_the_same_group_is_refused(okta, persona):
    # given devops holding (asking for) site admin
    first = _site_admin(persona)
    # when they ask again, on another instance; then the service refuses, naming the grant
    with pytest.raises(AccessError, match=f"grant #{first.pk} already gives"):
        request_grant(persona("devops"), make_instance("other-prod"), level_name=SITE_ADMIN)
    # and the database refuses a second open grant of the same membership outright
    with pytest.raises(IntegrityError):
        AccessGrant.objects.create(
            requester=first.requester,
            instance=first.instance,
            level=first.level,
            member=first.member,
            okta_group=GROUP,
            justification="j",
            duration=timedelta(minutes=5),
            requested_start=timezone.now(),
        )


def test_after_a_verified_removal_site_admin_can_be_asked_again(okta, persona):
    first = _site_admin(persona)
    AccessGrant.objects.filter(pk=first.pk).update(
        state=GrantState.REVOKED,
        activated_at=timezone.now(),
        binding_verified_removed_at=None,
    )
    # a revoked grant whose removal is not verified yet still blocks
    with pytest.raises(AccessError, match="already gives"):
        _site_admin(persona, "other-prod")
    AccessGrant.objects.filter(pk=first.pk).update(binding_verified_removed_at=timezone.now())
    assert _site_admin(persona, "beta-prod").state == GrantState.PENDING


def test_a_level_group_can_name_the_instance(okta, persona):
    AccessLevel.objects.filter(name=SITE_ADMIN).update(okta_group="sg-admins-{instance}")
    first = request_grant(persona("devops"), make_instance("acme-prod"), level_name=SITE_ADMIN)
    second = request_grant(persona("devops"), make_instance("beta-prod"), level_name=SITE_ADMIN)
    assert (first.okta_group, second.okta_group) == ("sg-admins-acme-prod", "sg-admins-beta-prod")


def test_a_site_admin_level_must_name_a_group_and_an_iam_level_none(db):
    policy = ApprovalPolicy.objects.get(slug="manager-approval")
    with pytest.raises(IntegrityError):
        AccessLevel.objects.create(
            name="x", kind=AccessLevelKind.OKTA_GROUP, okta_group="", approval_policy=policy
        )
    with pytest.raises(IntegrityError):
        AccessLevel.objects.create(
            name="y",
            kind=AccessLevelKind.GCP_IAM,
            iam_roles=["roles/viewer"],
            okta_group="g",
            approval_policy=policy,
        )
