"""A stale probe shows ``unknown``, not the state it last had: on rows, filters, the summary
and the health page, before the sweep's stale check has stored anything."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from health.choices import HealthState
from health.models import InstanceHealth
from health.selectors import filter_health, health_for_instances, health_summary
from instances.models import Instance
from tests.instances.factories import make_instance

pytestmark = pytest.mark.django_db


@pytest.fixture
def stale_and_fresh(health_settings):
    """Two instances stored as healthy: one probed a minute ago, one 10 minutes ago (stale
    after 5), which the stale check has not reached yet."""
    now = timezone.now()
    fresh = make_instance("fresh-prod")
    stale = make_instance("stale-prod")
    for instance, ago in ((fresh, 1), (stale, 10)):
        InstanceHealth.objects.create(
            instance=instance,
            state=HealthState.HEALTHY,
            last_probe_at=now - timedelta(minutes=ago),
            last_ok_at=now - timedelta(minutes=ago),
        )
    return fresh, stale


def test_stale_probe_shows_unknown_everywhere(stale_and_fresh):
    fresh, stale = stale_and_fresh
    # when the rows, filters and summary are read
    rows = health_for_instances([fresh.pk, stale.pk])
    everyone = Instance.objects.all()
    healthy = set(filter_health(everyone, HealthState.HEALTHY).values_list("slug", flat=True))
    unknown = set(filter_health(everyone, HealthState.UNKNOWN).values_list("slug", flat=True))
    summary = health_summary()
    # then the stale one is unknown, not healthy; the fresh one is healthy
    assert (rows[fresh.pk].state, rows[stale.pk].state) == (HealthState.HEALTHY, "unknown")
    assert rows[stale.pk].state_label == "Unknown"
    assert (healthy, unknown) == ({"fresh-prod"}, {"stale-prod"})
    assert (summary.healthy, summary.unknown) == (1, 1)


def test_health_page_of_a_stale_instance_says_unknown(stale_and_fresh, client_for):
    # when its health page is opened
    body = client_for("ce").get(reverse("health:instance_health", args=["stale-prod"]))
    # then the state pill says Unknown
    text = body.content.decode()
    assert 'data-testid="health-state">Unknown<' in text
