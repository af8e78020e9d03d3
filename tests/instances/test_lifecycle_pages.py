"""The lifecycle on the pages: suspend/resume buttons, the suspended and resumed banners, the
teardown confirmation (only from an approval's reference), its countdown and cancel button,
and the deletion record. The worker side is in test_lifecycle.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from instances.choices import LifecycleState, OperationKind, OperationState
from instances.models import Instance, Operation
from instances.services.lifecycle import (
    TeardownApproval,
    register_teardown_approval_resolver,
    unregister_teardown_approval_resolver,
)
from mi_admin.audit.models import AuditEvent
from tests.fixtures.personas import make_persona
from tests.instances.factories import (
    make_deletion_record,
    make_instance,
    make_operation,
    make_releases,
)

PAGE = "/instances/acme-prod/"
TEARDOWN = "/instances/acme-prod/teardown/"


def _instance(**fields: Any) -> Instance:
    make_releases(["5.8.0", "5.9.0", "5.10.0"])
    fields.setdefault("observed_version", "5.10.0")
    return make_instance("acme-prod", data_disk="data", architecture="v1.0", **fields)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_devops_suspends_from_the_instance_page_with_a_reason(client_for, db):
    # given devops on an active instance's page, which offers Suspend
    instance = _instance()
    client = client_for("devops")
    assert 'data-testid="suspend-form"' in client.get(PAGE).content.decode()
    # when they submit it without a reason; then it is refused with the service's sentence
    refused = client.post(reverse("instances:instance_suspend", args=["acme-prod"]))
    assert refused.status_code == 400
    assert "Say why the instance is suspended." in refused.content.decode()
    assert not Operation.objects.exists()
    # when they give one; then a suspend operation is queued, audited as run directly
    response = client.post(
        reverse("instances:instance_suspend", args=["acme-prod"]), {"reason": "POC paused"}
    )
    operation = Operation.objects.get(kind=OperationKind.SUSPEND)
    assert response.status_code == 302
    assert response["Location"] == reverse("instances:operation_detail", args=[operation.pk])
    assert operation.instance == instance
    assert operation.params["reason"] == "POC paused"
    event = AuditEvent.objects.get(action="instance.suspend_requested")
    assert event.after is not None
    assert event.after["direct"] is True
    # CE sees no lifecycle actions
    ce_body = client_for("ce").get(PAGE).content.decode()
    assert 'data-testid="lifecycle-actions"' not in ce_body


def test_a_suspended_instance_says_so_on_its_page_and_in_the_list(client_for, db):
    # given a suspended instance with its suspension operation
    instance = _instance(state=LifecycleState.SUSPENDED, observed_version="5.8.0")
    make_operation(
        instance,
        kind=OperationKind.SUSPEND,
        state=OperationState.SUCCEEDED,
        result={"snapshot": "mi-acme-prod-suspend-1"},
    )
    client = client_for("devops")
    # when devops opens its page; then a banner says suspended and what that means
    body = client.get(PAGE).content.decode()
    banner = body[body.index('data-testid="suspended-banner">') + 31 :]
    banner = _text(banner[: banner.index("</article>")])
    assert banner.startswith("Suspended since")
    assert "mi-acme-prod-suspend-1" in banner
    assert "not probed, its alerts are muted, and it is out of the uptime and version SLAs" in (
        banner
    )
    # it offers Resume (not Suspend), and its version SLA says it is not held
    assert 'data-testid="resume-form"' in body
    assert 'data-testid="suspend-form"' not in body
    assert "not held: suspended" in body
    # and the fleet list shows the state and the SLA cell the same way
    row = client.get("/instances/").content.decode()
    row = row[row.index('data-slug="acme-prod"') :]
    row = row[: row.index("</tr>")]
    assert ">Suspended<" in row
    assert "not held: suspended" in row


def test_resumed_behind_the_latest_release_offers_the_upgrade(client_for, db):
    # given an instance resumed on 5.9.0 while 5.10.0 is the latest release
    instance = _instance(observed_version="5.9.0")
    make_operation(instance, kind=OperationKind.RESUME, state=OperationState.SUCCEEDED)
    client = client_for("devops")
    # when devops opens its page; then a banner offers the upgrade to the latest release
    body = client.get(PAGE).content.decode()
    assert 'data-testid="resume-upgrade-banner"' in body
    form = body[body.index('data-testid="resume-upgrade-form"') :]
    assert f'action="{reverse("instances:instance_upgrade", args=["acme-prod"])}"' in body
    assert 'name="target" value="5.10.0"' in form[: form.index("</form>")]
    # and once an upgrade has succeeded since, the banner is gone
    make_operation(instance, kind=OperationKind.UPGRADE, state=OperationState.SUCCEEDED)
    assert 'data-testid="resume-upgrade-banner"' not in client.get(PAGE).content.decode()


def test_no_upgrade_banner_when_resumed_on_the_latest_release(client_for, db):
    instance = _instance(observed_version="5.10.0")
    make_operation(instance, kind=OperationKind.RESUME, state=OperationState.SUCCEEDED)
    body = client_for("devops").get(PAGE).content.decode()
    assert 'data-testid="resume-upgrade-banner"' not in body


@pytest.fixture
def approved_teardown(db) -> Iterator[TeardownApproval]:
    """An approved teardown of acme-prod with reference "request:77", approved by the
    manager, as the requests app's resolver answers it."""
    approval = TeardownApproval(
        reference="request:77",
        instance_slug="acme-prod",
        approved_by=(make_persona("manager"),),
        reason="customer left",
    )

    def resolver(reference: str) -> TeardownApproval | None:
        return approval if reference == approval.reference else None

    register_teardown_approval_resolver(resolver)
    yield approval
    unregister_teardown_approval_resolver(resolver)


def test_teardown_confirmation_opens_only_from_an_approval(client_for, approved_teardown):
    _instance()
    client = client_for("devops")
    # without or with an unknown reference: not found, saying where a teardown starts
    assert client.get(TEARDOWN).status_code == 404
    assert client.get(TEARDOWN, {"reference": "request:78"}).status_code == 404
    # with the approval's reference: the warning, who approved, and the typed-name field
    body = client.get(TEARDOWN, {"reference": "request:77"}).content.decode()
    assert "deleted for good" in body
    assert "request:77" in body
    assert "Manager Persona" in body or "manager" in body
    assert 'data-testid="typed-name"' in body


def test_teardown_with_a_wrong_name_is_refused_and_the_right_one_starts_the_countdown(
    client_for, approved_teardown
):
    _instance()
    client = client_for("devops")
    # when devops types the wrong name; then it is refused, says why, keeps what was typed
    refused = client.post(
        TEARDOWN, {"reference": "request:77", "typed_name": "acme-pro", "reason": "left"}
    )
    body = refused.content.decode()
    assert refused.status_code == 400
    assert "Type the instance&#x27;s name exactly (acme-prod)" in body
    assert 'value="acme-pro"' in body
    assert not Operation.objects.exists()
    # when they type it right; then a teardown is pending with its not-before
    response = client.post(
        TEARDOWN, {"reference": "request:77", "typed_name": "acme-prod", "reason": "left"}
    )
    operation = Operation.objects.get(kind=OperationKind.TEARDOWN)
    assert response.status_code == 302
    assert operation.state == OperationState.PENDING
    assert operation.params["reference"] == "request:77"
    assert [p["username"] for p in operation.params["approved_by"]] == ["manager"]
    assert operation.next_retry_at is not None
    # the operation page shows the countdown and the cancel button; the instance page too
    page = client.get(reverse("instances:operation_detail", args=[operation.pk])).content
    page_text = page.decode()
    assert 'data-testid="teardown-countdown"' in page_text
    assert "nothing is deleted before" in _text(page_text)
    assert 'data-testid="teardown-cancel"' in page_text
    assert 'data-testid="teardown-countdown"' in client.get(PAGE).content.decode()
    # when they cancel without a reason it is refused; with one it is cancelled
    cancel = reverse("instances:teardown_cancel", args=[operation.pk])
    client.post(cancel, {"reason": ""})
    operation.refresh_from_db()
    assert operation.state == OperationState.PENDING
    client.post(cancel, {"reason": "customer renewed"})
    operation.refresh_from_db()
    assert operation.state == OperationState.CANCELLED
    assert "customer renewed" in operation.error
    after = client.get(reverse("instances:operation_detail", args=[operation.pk])).content
    assert 'data-testid="teardown-cancel"' not in after.decode()


def test_self_approval_is_refused_on_the_confirmation_page(client_for, db):
    # given a teardown "approved" only by the devops person who would run it
    _instance()
    devops = make_persona("devops")
    approval = TeardownApproval("request:80", "acme-prod", (devops,))

    def resolver(reference: str) -> TeardownApproval | None:
        return approval if reference == "request:80" else None

    register_teardown_approval_resolver(resolver)
    try:
        response = client_for("devops").post(
            TEARDOWN, {"reference": "request:80", "typed_name": "acme-prod", "reason": "x"}
        )
    finally:
        unregister_teardown_approval_resolver(resolver)
    # then it is refused with the reason, and nothing is scheduled
    assert response.status_code == 400
    assert "someone other than the person running it" in response.content.decode()
    assert not Operation.objects.exists()


def test_deletion_record_page_lists_what_was_deleted(client_for, db):
    instance = _instance(state=LifecycleState.TORN_DOWN)
    record = make_deletion_record(instance)
    client = client_for("ce")
    body = client.get(reverse("instances:deletion_record", args=[record.pk])).content.decode()
    assert "request:1" in body
    assert "approver" in body
    assert "1234" in body
    assert f"projects/{instance.gcp_project}/vm" in body
    # the instance page links to it, and offers no lifecycle action any more
    page = client.get(PAGE).content.decode()
    assert 'data-testid="torn-down-banner"' in page
    assert reverse("instances:deletion_record", args=[record.pk]) in page
    devops_page = client_for("devops").get(PAGE).content.decode()
    assert 'data-testid="lifecycle-actions"' not in devops_page


def test_deletion_records_cannot_be_deleted_in_the_admin(client_for, db):
    record = make_deletion_record(_instance(state=LifecycleState.TORN_DOWN))
    client = client_for("admin")
    url = reverse("admin:instances_deletionrecord_delete", args=[record.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert (
        client.get(reverse("admin:instances_deletionrecord_change", args=[record.pk])).status_code
        == 200
    )
    record.refresh_from_db()
