"""The Django admin pages of the fleet: they open for Admins, and what the services and
operations own cannot be changed through them."""

from __future__ import annotations

import pytest

from instances.choices import (
    StepState,
)
from instances.models import Instance
from tests.instances.factories import (
    make_operation,
)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/instances/customer/",
        "/admin/instances/instance/",
        "/admin/instances/instance/?kind__exact=production&q=acme",
        "/admin/instances/release/",
        "/admin/instances/operation/",
    ],
)
def test_django_admin_lists_the_fleet(client_for, acme, url):
    # given an operation with steps; when an Admin opens the admin lists
    make_operation(acme, steps=[("Read the VM", StepState.DONE)])
    response = client_for("admin").get(url)
    # then they render
    assert response.status_code == 200


def test_django_admin_operation_is_read_only(client_for, acme):
    # given an operation with a step; when an Admin opens it in Django admin
    operation = make_operation(acme, steps=[("Read the VM", StepState.DONE)])
    body = client_for("admin").get(f"/admin/instances/operation/{operation.pk}/change/")
    # then it shows the step log with no way to save
    assert body.status_code == 200
    text = body.content.decode()
    assert "Read the VM" in text
    assert 'name="_save"' not in text


# Values an Admin might type over what operations own; none may reach the database.
TAMPERED = {
    "state": "torn_down",
    "desired_version": "9.9.9",
    "observed_version": "9.9.9",
    "vm_version": "9.9.9",
    "gcp_project": "someone-elses-project",
    "vm_name": "another-vm",
    "machine_type": "n2-standard-96",
    "network_access": "public_sso",
    "allowed_cidrs": '["0.0.0.0/0"]',
    "drift": "vm_missing",
}


def test_admin_cannot_change_state_or_versions_of_an_instance(client_for, acme):
    # given an active instance wanting 5.9.0 and running 5.8.0
    before = {name: getattr(acme, name) for name in TAMPERED}
    # when an Admin saves its admin form with every field typed over, and a new upgrade ring
    response = client_for("admin").post(
        f"/admin/instances/instance/{acme.pk}/change/",
        {
            "customer": acme.customer_id,
            "url": acme.url,
            "kind": acme.kind,
            "upgrade_ring": "canary",
            **TAMPERED,
            "_save": "Save",
        },
    )
    # then the save went through for what the admin may change, and nothing else moved
    assert response.status_code == 302, response.content.decode()[:2000]
    acme.refresh_from_db()
    assert acme.upgrade_ring == "canary"
    assert {name: getattr(acme, name) for name in TAMPERED} == before
    assert acme.state == "active"
    assert acme.desired_version == "5.9.0"


def test_admin_change_page_shows_owned_fields_read_only(client_for, acme):
    # when an Admin opens the instance in Django admin
    body = client_for("admin").get(f"/admin/instances/instance/{acme.pk}/change/").content.decode()
    # then the owned fields are shown, with no input to type into
    assert 'name="upgrade_ring"' in body
    for name in ("state", "desired_version", "observed_version", "gcp_project", "vm_name"):
        assert f'name="{name}"' not in body, name


def test_admin_adds_an_instance_only_as_requested(client_for, acme):
    # when an Admin adds an instance claiming it is active on 9.9.9
    response = client_for("admin").post(
        "/admin/instances/instance/add/",
        {
            "customer": acme.customer_id,
            "slug": "acme-trial",
            "url": "https://acme-trial.sourcegraph.example",
            "kind": "trial",
            "architecture": "v1.1",
            "size": "small",
            "network_access": "public_sso",
            "allowed_cidrs": "[]",
            "gcp_project": "mi-acme-trial",
            "gcp_zone": "us-central1-f",
            "vm_name": "default-red-instance",
            "machine_type": "n2-standard-8",
            "upgrade_ring": "general",
            "state": "active",
            "desired_version": "9.9.9",
            "observed_version": "9.9.9",
            "_save": "Save",
        },
    )
    # then it exists as a request: provisioning and upgrades are operations
    assert response.status_code == 302, response.content.decode()[:2000]
    added = Instance.objects.get(slug="acme-trial")
    assert added.state == "requested"
    assert added.desired_version == added.observed_version == ""


def test_admin_cannot_delete_an_instance(client_for, acme):
    # when an Admin tries to delete an instance (teardown is an operation)
    client = client_for("admin")
    response = client.post(f"/admin/instances/instance/{acme.pk}/delete/", {"post": "yes"})
    # then it is refused and the instance stays
    assert response.status_code == 403
    assert Instance.objects.filter(pk=acme.pk).exists()
