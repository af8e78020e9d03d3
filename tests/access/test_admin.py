"""Django admin: Admins edit access levels and an instance's opt-out; grants are evidence,
read-only there (the services own them)."""

from __future__ import annotations

import pytest

from access.choices import GrantState
from tests.access.conftest import make_instance
from tests.access.factories import make_access_grant

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/admin/access/accesslevel/", "/admin/access/accessgrant/"])
def test_the_access_admin_lists_render(client_for, persona, url):
    make_access_grant(persona("devops"), make_instance())
    assert client_for("admin").get(url).status_code == 200


def test_a_grant_cannot_be_changed_or_deleted_in_admin(client_for, persona):
    # given a pending grant
    grant = make_access_grant(persona("devops"), make_instance())
    client = client_for("admin")
    # when an Admin posts a change and a deletion
    changed = client.post(f"/admin/access/accessgrant/{grant.pk}/change/", {"state": "active"})
    deleted = client.post(f"/admin/access/accessgrant/{grant.pk}/delete/", {"post": "yes"})
    # then both are refused and the grant is as it was
    assert changed.status_code == 403
    assert deleted.status_code == 403
    grant.refresh_from_db()
    assert grant.state == GrantState.PENDING


def test_an_admin_sets_an_instances_opt_out(client_for):
    # given an instance; when an Admin opens its admin page, the opt-out is there to set
    instance = make_instance()
    page = client_for("admin").get(f"/admin/instances/instance/{instance.pk}/change/")
    assert "management_access_opt_out" in page.content.decode()
