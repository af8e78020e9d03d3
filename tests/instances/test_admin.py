"""The Django admin pages of the fleet: they open for Admins, and what the services and
operations own cannot be changed through them."""

from __future__ import annotations

import pytest

from instances.choices import (
    StepState,
)
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
