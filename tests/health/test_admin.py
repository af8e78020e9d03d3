"""The health admin pages open for Admins and let nobody edit what the sweep writes."""

from __future__ import annotations

import pytest
from django.utils import timezone

from health.models import HealthTransition, Incident, InstanceHealth
from tests.instances.factories import make_instance


@pytest.mark.parametrize(
    "path",
    ["/admin/health/instancehealth/", "/admin/health/healthtransition/", "/admin/health/incident/"],
)
def test_admin_lists_open_for_admins(client_for, path):
    # given an instance that is down with an open incident
    instance = make_instance("acme-prod")
    InstanceHealth.objects.create(instance=instance, state="down", last_probe_at=timezone.now())
    HealthTransition.objects.create(
        instance=instance, from_state="healthy", to_state="down", at=timezone.now()
    )
    Incident.objects.create(
        instance=instance,
        cause="down",
        dedup_key="mi-admin/acme-prod/down",
        summary="acme-prod is down",
        opened_at=timezone.now(),
    )
    # when an admin opens the list; then it renders, and offers no "add"
    response = client_for("admin").get(path)
    assert response.status_code == 200
    assert "acme-prod" in response.content.decode()
    assert client_for("admin").get(path + "add/").status_code == 403


def test_admin_cannot_change_what_the_sweep_writes(client_for):
    # given a down instance with an open incident
    instance = make_instance("acme-prod")
    health = InstanceHealth.objects.create(
        instance=instance, state="down", last_probe_at=timezone.now()
    )
    incident = Incident.objects.create(
        instance=instance,
        cause="down",
        dedup_key="mi-admin/acme-prod/down",
        summary="acme-prod is down",
        opened_at=timezone.now(),
    )
    client = client_for("admin")
    # when an Admin posts "healthy" and "resolved" through the admin forms
    health_post = client.post(
        f"/admin/health/instancehealth/{health.pk}/change/",
        {"instance": instance.pk, "state": "healthy", "_save": "Save"},
    )
    incident_post = client.post(
        f"/admin/health/incident/{incident.pk}/change/",
        {"state": "resolved", "resolved_at_0": "2026-01-01", "_save": "Save"},
    )
    # then both are refused and nothing changed
    assert health_post.status_code == incident_post.status_code == 403
    health.refresh_from_db()
    incident.refresh_from_db()
    assert health.state == "down"
    assert incident.state == "open"
