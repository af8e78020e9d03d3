"""The provisioning pages: starting an instance from the form, the checklist on the instance
page (DevOps act, others view), the trial panel, refusals that keep what was typed."""

from __future__ import annotations

import datetime as dt

import pytest

from instances.choices import InstanceKind, LifecycleState, ProvisioningStep
from instances.models import Instance, ProvisioningCheck
from instances.services.provisioning import instance_provision_start
from tests.instances.factories import make_customer, make_instance

pytestmark = pytest.mark.django_db

FORM = {
    "customer": "",
    "customer_name": "Globex",
    "customer_slug": "globex",
    "slug": "globex-trial",
    "kind": "trial",
    "architecture": "v1.1",
    "size": "small",
    "admin_contact": "it@globex.example",
    "code_host_access": "public",
    "network_access": "allowlist",
    "allowed_cidrs": "203.0.113.0/24\n198.51.100.0/24",
    "gcp_project": "",
    "gcp_zone": "us-central1-f",
    "vm_name": "default-red-instance",
    "url": "",
    "owner": "",
    "reason": "POC approved by the regional manager",
}


def provisioning(actor, slug="globex-trial"):
    return instance_provision_start(
        actor=actor,
        reason="POC",
        customer=make_customer("globex"),
        slug=slug,
        kind=InstanceKind.TRIAL,
        architecture="v1.1",
        admin_contact="it@globex.example",
    )


def test_devops_starts_an_instance_from_the_form(client_for):
    client = client_for("devops")
    response = client.post("/provisioning/new/", FORM)
    assert response.status_code == 302
    assert response["Location"] == "/instances/globex-trial/"
    instance = Instance.objects.get(slug="globex-trial")
    assert instance.state == LifecycleState.PROVISIONING
    assert instance.allowed_cidrs == ["203.0.113.0/24", "198.51.100.0/24"]
    # and it is listed on the provisioning page with its progress
    page = client.get("/provisioning/").content.decode()
    assert 'data-slug="globex-trial"' in page
    assert "0 / 4" in page


def test_an_invalid_cidr_is_refused_and_the_input_kept(client_for):
    response = client_for("devops").post(
        "/provisioning/new/", {**FORM, "allowed_cidrs": "203.0.113.7/24"}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Not a network in CIDR notation" in body
    assert "203.0.113.7/24" in body
    assert "POC approved by the regional manager" in body
    assert not Instance.objects.exists()


def test_the_checklist_on_the_instance_page(client_for, devops):
    instance = provisioning(devops)
    client = client_for("devops")
    # DevOps ticks DNS from the page
    response = client.post(
        f"/instances/{instance.slug}/checklist/tick/", {"step": "dns", "note": "CNAME done"}
    )
    assert response.status_code == 302
    page = client.get(f"/instances/{instance.slug}/").content.decode()
    assert 'data-testid="provisioning-panel"' in page
    assert 'data-testid="check-dns" data-ticked="yes"' in page
    assert "CNAME done" in page
    assert 'data-testid="verify-terraform"' in page
    assert 'data-testid="untick-dns"' in page
    # a CE sees the checklist but no action
    ce_page = client_for("ce").get(f"/instances/{instance.slug}/").content.decode()
    assert 'data-testid="check-dns" data-ticked="yes"' in ce_page
    assert 'data-testid="verify-terraform"' not in ce_page
    assert 'data-testid="untick-dns"' not in ce_page


def test_unticking_without_a_reason_is_refused_on_its_own_page(client_for, devops):
    instance = provisioning(devops)
    client = client_for("devops")
    client.post(f"/instances/{instance.slug}/checklist/tick/", {"step": "sso"})
    response = client.post(
        f"/instances/{instance.slug}/checklist/untick/", {"step": "sso", "reason": ""}
    )
    assert response.status_code == 400
    assert "say why" in response.content.decode()
    assert ProvisioningCheck.objects.get(instance=instance, step=ProvisioningStep.SSO).ticked
    response = client.post(
        f"/instances/{instance.slug}/checklist/untick/", {"step": "sso", "reason": "wrong IdP"}
    )
    assert response.status_code == 302
    assert not ProvisioningCheck.objects.get(instance=instance, step=ProvisioningStep.SSO).ticked


def test_ticking_terraform_by_hand_is_refused(client_for, devops):
    instance = provisioning(devops)
    response = client_for("devops").post(
        f"/instances/{instance.slug}/checklist/tick/", {"step": "terraform"}
    )
    assert response.status_code == 409
    assert "Verify" in response.content.decode()


def test_the_trial_panel_and_fleet_list_show_the_end(client_for):
    make_instance(
        "acme-trial",
        kind=InstanceKind.TRIAL,
        trial_ends_on=dt.date(2027, 3, 12),
        went_live_at=dt.datetime(2027, 2, 10, tzinfo=dt.UTC),
    )
    client = client_for("devops")
    page = client.get("/instances/acme-trial/").content.decode()
    assert 'data-testid="trial-ends">2027-03-12' in page
    assert 'data-testid="decision-on">2027-03-05' in page
    assert "kind=trial_extension&amp;instance=acme-trial" in page
    assert 'data-testid="trial-end-form"' in page
    listing = client.get("/instances/").content.decode()
    assert "ends 2027-03-12" in listing
    # CE sees the dates, not the forms
    ce_page = client_for("ce").get("/instances/acme-trial/").content.decode()
    assert 'data-testid="trial-ends">2027-03-12' in ce_page
    assert 'data-testid="trial-end-form"' not in ce_page


def test_moving_the_end_without_a_reason_keeps_the_date_typed(client_for):
    trial = make_instance("acme-trial", kind=InstanceKind.TRIAL, trial_ends_on=dt.date(2027, 3, 12))
    client = client_for("devops")
    response = client.post(f"/instances/{trial.slug}/trial/end/", {"ends_on": "2027-04-30"})
    assert response.status_code == 400
    assert "2027-04-30" in response.content.decode()
    trial.refresh_from_db()
    assert trial.trial_ends_on == dt.date(2027, 3, 12)
    response = client.post(
        f"/instances/{trial.slug}/trial/end/", {"ends_on": "2027-04-30", "reason": "extended"}
    )
    assert response.status_code == 302
    trial.refresh_from_db()
    assert trial.trial_ends_on == dt.date(2027, 4, 30)
