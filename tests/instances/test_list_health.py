"""The fleet list's health columns and the dashboard's health summary."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from health.models import InstanceHealth
from health.selectors import health_for_instances, health_summary
from tests.instances.factories import make_instance, make_release

pytestmark = pytest.mark.django_db


def test_fleet_list_shows_health_columns_without_queries_per_row(client_for):
    # given two instances, one down and behind the newest release
    make_release("5.9.0", released_at=timezone.now() - timedelta(days=9))
    acme = make_instance("acme-prod", observed_version="5.8.0")
    make_instance("acme-trial", observed_version="5.9.0")
    InstanceHealth.objects.create(instance=acme, state="down", last_probe_at=timezone.now())
    # when devops opens the fleet list filtered on down instances
    response = client_for("devops").get("/instances/", {"health": "down"})
    body = response.content.decode()
    # then only the down one is listed, with its health and version SLA
    assert response.status_code == 200
    assert "acme-prod" in body
    assert "acme-trial" not in body
    assert ">Down<" in body
    assert "overdue by 2 days" in body


def test_fleet_row_cells_and_summary_render(client_for):
    # given an overdue instance that is down, and the rows of its page
    make_release("5.9.0", released_at=timezone.now() - timedelta(days=9))
    acme = make_instance("acme-prod", observed_version="5.8.0")
    InstanceHealth.objects.create(instance=acme, state="down", last_probe_at=timezone.now())
    rows = health_for_instances([acme.pk])
    # when the row cells (registered on the fleet list) and the summary line are rendered
    cells = render_to_string("health/_cells.html", {"row": rows[acme.pk]})
    header = render_to_string("health/_header_cells.html")
    summary = render_to_string("health/_summary.html", {"health_summary": health_summary()})
    # then they show the state and link to the filtered fleet list
    assert cells.count("<td") == 3
    assert header.count("<th") == 3
    assert 'class="pill pill-bad"' in cells
    assert ">Down<" in cells
    assert 'data-testid="status-bar"' in cells
    # and the fleet list shows them in the row, beside the version SLA (instances' own)
    page = client_for("devops").get("/instances/").content.decode()
    assert 'data-col="health"' in page
    assert "overdue by 2 days" in page
    assert 'href="/instances/?health=down"' in summary
    assert "1 down" in summary
    assert 'href="/instances/?version_sla=overdue"' in summary
    assert "1 overdue on 5.9.0" in summary
