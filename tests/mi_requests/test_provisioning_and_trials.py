"""New instances hand over to provisioning's checklist (reference request:<pk>) and end
when the instance goes live; trial extensions move the trial's end date."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from instances.choices import InstanceKind, LifecycleState
from instances.models import Instance, InstanceProvisioning
from mi_admin.approvals.services import approval_review_submit
from mi_requests.choices import RequestState
from mi_requests.services.execution import (
    request_provision,
    request_trial_extend,
    requests_sweep,
)
from mi_requests.services.requests import (
    RequestError,
    request_acknowledge,
    request_finish,
    request_submit,
)
from tests.instances.factories import make_instance

pytestmark = pytest.mark.django_db

ANSWERS = {
    "instance_kind": "trial",
    "architecture": "v1.1",
    "size": "small",
    "admin_contact": "it@initech.example",
    "code_host_access": "allowlist",
    "inbound_access": "allowlist",
    "allowed_cidrs": ["203.0.113.0/24"],
}


def approve(request, people, capture):
    request_acknowledge(request=request, actor=people["devops"])
    with capture(execute=True):
        approval_review_submit(
            request=request.approvals.get().approval,
            reviewer=people["manager"],
            decision="approve",
        )
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED


def test_a_new_instance_is_provisioned_from_its_request_and_done_when_live(
    policies, people, django_capture_on_commit_callbacks
):
    # given an approved new-instance request for a new customer
    request = request_submit(
        requester=people["ce"], kind="new_instance", new_customer_name="Initech", details=ANSWERS
    )
    approve(request, people, django_capture_on_commit_callbacks)
    # when DevOps gives a bad slug; then refused, saying why, and nothing is created
    with pytest.raises(RequestError, match="lower-case letters"):
        request_provision(request=request, actor=people["devops"], slug="Initech Trial!")
    assert not Instance.objects.filter(customer__name="Initech").exists()
    # when DevOps starts provisioning it as "initech"
    request_provision(request=request, actor=people["devops"], slug="initech")
    request.refresh_from_db()
    # then the instance is provisioning with the request's answers, owned by the CE
    instance = Instance.objects.get(slug="initech")
    assert instance.state == LifecycleState.PROVISIONING
    assert instance.kind == InstanceKind.TRIAL
    assert instance.allowed_cidrs == ["203.0.113.0/24"]
    assert instance.network_access == "allowlist"
    assert instance.admin_contact == "it@initech.example"
    assert instance.owner == people["ce"]
    assert InstanceProvisioning.objects.get(instance=instance).reference == (
        f"request:{request.pk}"
    )
    assert request.state == RequestState.IN_PROGRESS
    assert request.instance == instance
    assert request.customer == instance.customer
    # and DevOps cannot mark it done by hand; the sweep does nothing while provisioning
    with pytest.raises(RequestError, match="ends on its own"):
        request_finish(request=request, actor=people["devops"], comment="done")
    assert requests_sweep()["finished"] == 0
    # when provisioning sees it go live; then the sweep marks the request done, once
    Instance.objects.filter(pk=instance.pk).update(state=LifecycleState.ACTIVE)
    assert requests_sweep()["finished"] == 1
    assert requests_sweep()["finished"] == 0
    request.refresh_from_db()
    assert request.state == RequestState.DONE


def test_a_trial_extension_moves_the_end_date(policies, people, django_capture_on_commit_callbacks):
    # given a trial ending soon and an approved extension request
    trial = make_instance(
        "globex-trial",
        kind=InstanceKind.TRIAL,
        went_live_at=timezone.now() - timedelta(days=25),
        trial_ends_on=timezone.now().date() + timedelta(days=5),
    )
    new_end = timezone.now().date() + timedelta(days=40)
    request = request_submit(
        requester=people["ce"],
        kind="trial_extension",
        instance=trial,
        reason="security review takes longer",
        details={"new_end_date": new_end.isoformat()},
    )
    approve(request, people, django_capture_on_commit_callbacks)
    # when DevOps extends it
    request_trial_extend(request=request, actor=people["devops"])
    # then the trial ends later and the request is done
    trial.refresh_from_db()
    assert trial.trial_ends_on == new_end
    request.refresh_from_db()
    assert request.state == RequestState.DONE
    assert list(request.events.values_list("action", flat=True))[-2:] == ["start", "finish"]
