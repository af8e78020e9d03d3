"""The request pages: intake forms (pre-filled from the query, refused input shown again with
its errors and values), the queue and who sees what, a request's page and its actions, the
SLA report and its CSV."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from instances.choices import InstanceKind
from mi_admin.accounts.models import User
from mi_requests.choices import RequestState
from mi_requests.models import CustomerRequest
from mi_requests.services.requests import request_acknowledge, request_submit
from tests.instances.factories import make_customer, make_instance
from tests.mi_requests.conftest import file_suspension

pytestmark = pytest.mark.django_db

TOMORROW = (timezone.now() + timedelta(days=30)).date().isoformat()


def new_instance_post(**overrides: str) -> dict[str, str]:
    data = {
        "customer_choice": "new",
        "new_customer_name": "Initech",
        "instance_kind": "trial",
        "architecture": "v1.1",
        "size": "small",
        "admin_contact": "it@initech.example",
        "code_host_access": "allowlist",
        "inbound_access": "allowlist",
        "allowed_cidrs": "203.0.113.0/24\n198.51.100.7/32",
        "security_accepted": "on",
        "deal_qualified": "on",
        "technically_qualified": "on",
        "poc_criteria_documented": "on",
        "non_standard": "false",
        "reason": "POC for 50 developers",
    }
    data.update(overrides)
    return data


def test_the_kind_chooser_lists_every_request_type(client_for):
    response = client_for("ce").get("/requests/new/")
    assert response.status_code == 200
    for kind in ("new_instance", "suspension", "resume", "teardown", "feature", "trial_extension"):
        assert f"?kind={kind}" in response.content.decode()


def test_the_trial_extension_link_pre_fills_the_instance(client_for, policies):
    # given a trial instance (provisioning's reminder links here)
    make_instance("globex-trial", kind=InstanceKind.TRIAL)
    # when CE follows /requests/new/?kind=trial_extension&instance=globex-trial
    response = client_for("ce").get("/requests/new/?kind=trial_extension&instance=globex-trial")
    # then the form has the instance chosen
    assert response.status_code == 200
    form = response.context["form"]
    assert form["instance"].value() == "globex-trial"
    assert '<option value="globex-trial" selected>' in response.content.decode()


def test_invalid_cidrs_are_refused_line_by_line_and_nothing_is_lost(client_for, policies):
    # given CE fills in a new-instance request with a few bad CIDRs
    cidrs = "203.0.113.0/24\n10.0.0.0/8\n203.0.113.5/24\nnot-an-ip\n\n198.51.100.300/32"
    response = client_for("ce").post(
        "/requests/new/?kind=new_instance", new_instance_post(allowed_cidrs=cidrs)
    )
    # then the form comes back with one error per bad line, and what was typed
    assert response.status_code == 400
    errors = response.context["form"].errors["allowed_cidrs"]
    assert errors[0].startswith("Line 2: 10.0.0.0/8 is not a public range")
    assert errors[1].startswith("Line 3: '203.0.113.5/24' is not a valid CIDR")
    assert "did you mean 203.0.113.0/24?" in errors[1]
    assert errors[2].startswith("Line 4: 'not-an-ip' is not a valid CIDR")
    assert errors[3].startswith("Line 6: '198.51.100.300/32' is not a valid CIDR")
    assert len(errors) == 4
    body = response.content.decode()
    assert "not-an-ip" in body
    assert 'value="Initech"' in body
    assert "it@initech.example" in body
    assert CustomerRequest.objects.count() == 0


def test_an_incomplete_checklist_is_refused(client_for, policies):
    data = new_instance_post()
    del data["deal_qualified"]
    response = client_for("ce").post("/requests/new/?kind=new_instance", data)
    assert response.status_code == 400
    assert "The checklist must be complete" in response.content.decode()
    assert "The deal is qualified" in response.content.decode()
    assert CustomerRequest.objects.count() == 0


def test_a_new_instance_request_is_filed_with_its_answers(client_for, policies):
    response = client_for("ce").post("/requests/new/?kind=new_instance", new_instance_post())
    assert response.status_code == 302
    request = CustomerRequest.objects.get()
    assert response["Location"] == f"/requests/{request.pk}/"
    assert request.new_customer_name == "Initech"
    assert request.details["allowed_cidrs"] == ["203.0.113.0/24", "198.51.100.7/32"]
    assert request.details["inbound_access"] == "allowlist"
    assert request.non_standard is False


def test_a_suspension_is_filed_from_the_form_and_its_page_shows_the_clocks(client_for, policies):
    make_instance("acme-prod", data_disk="d")
    client = client_for("ce")
    response = client.post(
        "/requests/new/?kind=suspension",
        {"instance": "acme-prod", "reason": "POC paused", "expected_return": TOMORROW},
    )
    assert response.status_code == 302
    page = client.get(response["Location"])
    body = page.content.decode()
    assert page.status_code == 200
    assert "Suspension: acme-prod" in body
    assert "Response (24 h)" in body
    assert "starts at approval" in body
    assert page.context["detail"].requester_actions == {"withdraw"}
    assert 'data-testid="do-withdraw"' in body


def test_a_suspension_needs_a_future_return_date(client_for, policies):
    make_instance("acme-prod")
    response = client_for("ce").post(
        "/requests/new/?kind=suspension",
        {"instance": "acme-prod", "reason": "POC paused", "expected_return": "2020-01-01"},
    )
    assert response.status_code == 400
    assert "must be in the future" in response.content.decode()
    assert "POC paused" in response.content.decode()


def test_ce_sees_their_own_and_their_customers_requests_only(client_for, policies, people):
    # given one request by ce, one on a customer ce owns (filed by devops), one elsewhere
    other_ce = User.objects.create(username="ce2", oidc_sub="sub-ce2")
    other_ce.groups.add(Group.objects.get_or_create(name="mi-ce")[0])
    mine = file_suspension(people["ce"], make_instance("acme-prod"))
    owned = make_customer("globex", owner_ce=people["ce"])
    theirs = file_suspension(people["devops"], make_instance("globex-prod", customer=owned))
    elsewhere = file_suspension(other_ce, make_instance("initech-prod"))
    # when ce opens the list; then it has theirs and their customer's
    client = client_for("ce")
    response = client.get("/requests/")
    listed = {row.pk for row, _clocks in response.context["rows"]}
    assert listed == {mine.pk, theirs.pk}
    # and the other request's page is not found for them, found for devops
    assert client.get(f"/requests/{elsewhere.pk}/").status_code == 404
    assert client_for("devops").get(f"/requests/{elsewhere.pk}/").status_code == 200


def test_the_devops_queue_puts_the_most_urgent_first(client_for, policies, people):
    # given three requests, the oldest unacknowledged one nearest its response deadline
    old = file_suspension(people["ce"], make_instance("a-prod"))
    CustomerRequest.objects.filter(pk=old.pk).update(
        response_due_at=timezone.now() + timedelta(hours=1)
    )
    newer = file_suspension(people["ce"], make_instance("b-prod"))
    done = file_suspension(people["ce"], make_instance("c-prod"))
    CustomerRequest.objects.filter(pk=done.pk).update(state=RequestState.WITHDRAWN)
    # when DevOps opens the open requests
    response = client_for("devops").get("/requests/", {"status": "open"})
    order = [row.pk for row, _clocks in response.context["rows"]]
    # then the one due first leads, the closed one is not listed
    assert order == [old.pk, newer.pk]


def test_devops_acknowledges_from_the_page(client_for, policies, people):
    request = file_suspension(people["ce"], make_instance("acme-prod"))
    response = client_for("devops").post(
        f"/requests/{request.pk}/handle/", {"action": "acknowledge", "comment": "taking it"}
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == RequestState.ACKNOWLEDGED
    assert request.events.get(action="acknowledge").comment == "taking it"


def test_a_refused_action_shows_the_reason_and_keeps_the_text(client_for, policies, people):
    # given an acknowledged request; when DevOps asks a question while the manager decides
    request = file_suspension(people["ce"], make_instance("acme-prod"))
    request_acknowledge(request=request, actor=people["devops"])
    response = client_for("devops").post(
        f"/requests/{request.pk}/handle/", {"action": "ask", "comment": "Which date?"}
    )
    # then the page says why and keeps the question typed
    assert response.status_code == 400
    body = response.content.decode()
    assert "cannot be put on hold with a question" in body
    assert "Which date?" in body


def test_the_requester_comments_on_the_timeline(client_for, policies, people):
    request = file_suspension(people["ce"], make_instance("acme-prod"))
    client = client_for("ce")
    assert (
        client.post(
            f"/requests/{request.pk}/respond/",
            {"action": "comment", "comment": "Customer call Tue"},
        ).status_code
        == 302
    )
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert "Customer call Tue" in page


def test_the_sla_report_and_its_csv(client_for, policies, people):
    # given a request acknowledged in time and one past its response deadline, unacknowledged
    on_time = file_suspension(people["ce"], make_instance("a-prod"))
    request_acknowledge(request=on_time, actor=people["devops"])
    late = request_submit(
        requester=people["ce"], kind="feature", instance=make_instance("b-prod"), reason="SAML"
    )
    CustomerRequest.objects.filter(pk=late.pk).update(
        submitted_at=timezone.now() - timedelta(hours=25),
        response_due_at=timezone.now() - timedelta(hours=1),
    )
    # when the report is opened; then one row per kind this month, with attainment
    response = client_for("manager").get("/requests/sla/")
    assert response.status_code == 200
    rows = {row["kind"]: row for row in response.context["rows"]}
    assert rows["suspension"]["response_met"] == 1
    assert rows["suspension"]["response_pct"] == "100 %"
    assert rows["feature"]["response_breached"] == 1
    assert rows["feature"]["response_pct"] == "0 %"
    # and the CSV has the same figures, filtered by kind
    export = client_for("manager").get("/requests/sla/export.csv", {"kind": "feature"})
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert lines[0].startswith("month,kind,requests,response_met")
    assert len(lines) == 2
    assert ",Feature request,1,0,1,0 %," in lines[1]
    # an invalid filter is refused
    bad = client_for("manager").get("/requests/sla/export.csv", {"since": "yesterday"})
    assert bad.status_code == 400


def test_the_manager_finds_the_request_in_the_approvals_inbox_with_its_link(
    client_for, policies, people
):
    # given an acknowledged suspension request waiting for a manager
    request = file_suspension(people["ce"], make_instance("acme-prod"))
    request_acknowledge(request=request, actor=people["devops"])
    approval = request.approvals.get().approval
    # when the manager opens the inbox and the approval
    client = client_for("manager")
    inbox = client.get("/approvals/").content.decode()
    page = client.get(f"/approvals/{approval.pk}/").content.decode()
    # then both say what it is and link to the request's page
    assert f"Request #{request.pk}: Suspension: acme-prod (by Ce Persona)" in inbox
    assert f'href="/requests/{request.pk}/" data-testid="subject-link"' in inbox
    assert '<small class="muted">Request · <a' in inbox
    assert f'href="/requests/{request.pk}/" data-testid="subject-link"' in page
    # and the CE requester has nothing waiting for them
    assert "Nothing waits for you" in client_for("ce").get("/approvals/").content.decode()
