"""The Django admin pages of the fleet: they open for Admins, and what the services and
operations own cannot be changed through them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from instances.choices import (
    ReleaseKind,
    StepState,
)
from instances.models import Instance, Release
from instances.services.releases import ReleaseError, release_create
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


def _release_form(version: str, released_at: datetime) -> dict[str, str]:
    local = timezone.localtime(released_at)
    return {
        "version": version,
        "kind": ReleaseKind.MONTHLY,
        "released_at_0": local.strftime("%Y-%m-%d"),
        "released_at_1": local.strftime("%H:%M:%S"),
        "notes": "",
    }


def _service_refusal(version: str, released_at: datetime) -> str:
    with pytest.raises(ReleaseError) as refused:
        release_create(version=version, kind=ReleaseKind.MONTHLY, released_at=released_at)
    return str(refused.value)


BAD_RELEASES = {
    "not a version": ("6.9", timedelta(days=-1)),
    "in the future": ("6.9.1", timedelta(days=2)),
    "already recorded": ("6.1.0", timedelta(days=-1)),
}


@pytest.mark.parametrize("case", BAD_RELEASES)
def test_django_admin_refuses_a_bad_release_as_add_release_does(client_for, case):
    # given a recorded release, and a release the service refuses (its message)
    Release.objects.create(version="6.1.0", kind=ReleaseKind.MONTHLY, released_at=timezone.now())
    version, offset = BAD_RELEASES[case]
    released_at = timezone.now() + offset
    message = _service_refusal(version, released_at)
    # when an Admin adds it in Django admin
    response = client_for("admin").post(
        "/admin/instances/release/add/", _release_form(version, released_at)
    )
    # then it is refused with the same message and nothing is recorded
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [message]
    assert list(Release.objects.values_list("version", flat=True)) == ["6.1.0"]


@pytest.mark.parametrize("case", ["not a version", "in the future"])
def test_django_admin_refuses_an_edit_that_add_release_would_refuse(client_for, case):
    # given a recorded release
    release = Release.objects.create(
        version="6.1.0", kind=ReleaseKind.MONTHLY, released_at=timezone.now() - timedelta(days=3)
    )
    version, offset = BAD_RELEASES[case]
    released_at = timezone.now() + offset
    # when an Admin changes it to values the service refuses
    response = client_for("admin").post(
        f"/admin/instances/release/{release.pk}/change/", _release_form(version, released_at)
    )
    # then the edit is refused with the service's message and the release is unchanged
    assert response.context["adminform"].form.non_field_errors() == [
        _service_refusal(version, released_at)
    ]
    release.refresh_from_db()
    assert release.version == "6.1.0"
    assert release.released_at < timezone.now()


def test_django_admin_saves_a_good_release_and_its_own_edit(client_for):
    # given an Admin in Django admin
    client = client_for("admin")
    released_at = timezone.now() - timedelta(days=1)
    # when they add a valid release, then save it again unchanged
    added = client.post("/admin/instances/release/add/", _release_form("6.2.0", released_at))
    release = Release.objects.get(version="6.2.0")
    edited = client.post(
        f"/admin/instances/release/{release.pk}/change/", _release_form("6.2.0", released_at)
    )
    # then both are accepted (its own version is not "already recorded")
    assert added.status_code == 302
    assert edited.status_code == 302
