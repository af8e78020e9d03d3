"""Two people acting on one request at the same moment: the row lock lets one through and
the other is refused with the reason; one approval is filed, one timeline event written."""

from __future__ import annotations

import pytest

from mi_requests.choices import RequestState
from mi_requests.models import CustomerRequest
from mi_requests.services.requests import RequestError, request_acknowledge, request_withdraw
from tests.concurrency import run_at_once
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance
from tests.mi_requests.conftest import ensure_policies, file_suspension


@pytest.mark.django_db(transaction=True)
def test_two_acknowledgements_at_once_file_one_approval():
    # given a submitted request and two DevOps engineers
    ensure_policies()
    ce, devops, admin = (make_persona(n) for n in ("ce", "devops", "admin"))
    request = file_suspension(ce, make_instance("acme-prod"))
    # when both acknowledge it at the same moment
    results = run_at_once(
        lambda: request_acknowledge(request=request, actor=devops),
        lambda: request_acknowledge(request=request, actor=admin),
    )
    # then one won, the other was told why, and one approval was filed
    refused = [r for r in results if isinstance(r, RequestError)]
    assert len(refused) == 1
    assert "acknowledged cannot be acknowledged" in str(refused[0])
    request.refresh_from_db()
    assert request.state == RequestState.ACKNOWLEDGED
    assert request.approvals.count() == 1
    assert request.events.filter(action="acknowledge").count() == 1


@pytest.mark.django_db(transaction=True)
def test_acknowledge_racing_a_withdrawal_resolves_one_way():
    # given a submitted request
    ensure_policies()
    ce, devops = make_persona("ce"), make_persona("devops")
    request = file_suspension(ce, make_instance("acme-prod"))
    # when DevOps acknowledges while the requester withdraws
    results = run_at_once(
        lambda: request_acknowledge(request=request, actor=devops),
        lambda: request_withdraw(request=request, actor=ce),
    )
    # then the request is withdrawn either way, and what was filed agrees with the order
    refused = [r for r in results if isinstance(r, RequestError)]
    request = CustomerRequest.objects.get(pk=request.pk)
    assert request.state == RequestState.WITHDRAWN
    approvals = [link.approval.state for link in request.approvals.select_related("approval")]
    if approvals:  # acknowledged first: its approval was withdrawn with the request
        assert approvals == ["withdrawn"]
        assert refused == []
    else:  # withdrawn first: the acknowledgement was refused, saying why
        assert len(refused) == 1
        assert "withdrawn cannot be acknowledged" in str(refused[0])
