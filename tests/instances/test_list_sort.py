"""Sorting the fleet list by health, 30-day uptime and version SLA: health registers its
sorts with its columns (instances never imports health); the page, its htmx partial and the
CSV export sort through the one FilterSet."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from health.models import HealthDaily, InstanceHealth
from instances.choices import LifecycleState
from instances.models import Instance
from instances.templatetags.fleet import sla_short
from tests.instances.factories import make_instance, make_release

pytestmark = pytest.mark.django_db


def _page_order(client, sort: str) -> list[str]:
    body = client.get("/instances/", {"sort": sort}).content.decode()
    return re.findall(r'data-testid="instance-row" data-slug="([^"]+)"', body)


def _partial_order(client, sort: str) -> list[str]:
    body = client.get("/instances/", {"sort": sort}, HTTP_HX_REQUEST="true").content.decode()
    return re.findall(r'data-testid="instance-row" data-slug="([^"]+)"', body)


def _export_order(client, sort: str) -> list[str]:
    response = client.get("/instances/export.csv", {"sort": sort})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    return [row[0] for row in rows[1:]]


def _all_orders(client, sort: str) -> list[list[str]]:
    return [_page_order(client, sort), _partial_order(client, sort), _export_order(client, sort)]


def test_sort_by_health_puts_the_worst_first(client_for):
    # given one instance in each shown health state (slugs in the opposite order)
    now = timezone.now()
    states = {"f-down": "down", "e-degraded": "degraded", "c-healthy": "healthy"}
    for slug, state in states.items():
        instance = make_instance(slug)
        InstanceHealth.objects.create(instance=instance, state=state, last_probe_at=now)
    make_instance("d-unknown")  # never probed
    stale = make_instance("g-stale")  # probed long ago: shown unknown, as the filter says
    InstanceHealth.objects.create(
        instance=stale, state="healthy", last_probe_at=now - timedelta(days=2)
    )
    make_instance("b-suspended", state=LifecycleState.SUSPENDED)
    make_instance("a-provisioning", state=LifecycleState.PROVISIONING)
    client = client_for("devops")
    # when the list is sorted by health, then reversed
    worst_first = [
        "f-down",
        "e-degraded",
        "d-unknown",
        "g-stale",
        "c-healthy",
        "b-suspended",
        "a-provisioning",
    ]
    # then the page, its partial and the export agree: down, degraded, unknown, healthy,
    # suspended, not monitored (ties by customer then slug)
    assert _all_orders(client, "health") == [worst_first] * 3
    reverse = _page_order(client, "-health")
    assert reverse[:2] == ["a-provisioning", "b-suspended"]
    assert reverse[-1] == "f-down"


def test_sort_by_uptime_lowest_first_and_no_data_last(client_for):
    # given 30-day uptimes of 50 %, 66.7 % (a bad day 20 days ago, 100 % over 7 days)
    # and 90 %, and one instance without data
    today = timezone.now().date()
    figures = {"a-half": (10, 5), "b-was-down": (10, 10), "c-most": (10, 9)}
    for slug, (samples, ok) in figures.items():
        instance = make_instance(slug)
        for back in (1, 2):
            HealthDaily.objects.create(
                instance=instance, day=today - timedelta(back), samples=samples, ok_samples=ok
            )
    down_day = today - timedelta(20)
    HealthDaily.objects.create(
        instance=Instance.objects.get(slug="b-was-down"), day=down_day, samples=10, ok_samples=0
    )
    make_instance("d-none")
    client = client_for("devops")
    # when sorted by uptime, then reversed; then by the 30-day figure the list shows,
    # lowest first (no data last either way)
    assert _all_orders(client, "uptime") == [["a-half", "b-was-down", "c-most", "d-none"]] * 3
    assert _all_orders(client, "-uptime") == [["c-most", "b-was-down", "a-half", "d-none"]] * 3


def test_sort_by_version_sla_most_overdue_first(client_for):
    # given releases 100, 40 and 2 days old, and instances overdue, due, current, not held
    now = timezone.now()
    make_release("5.7.0", released_at=now - timedelta(days=100))
    make_release("5.8.0", released_at=now - timedelta(days=40))
    make_release("5.9.0", released_at=now - timedelta(days=2))
    make_instance("a-current", observed_version="5.9.0")
    make_instance("b-due", observed_version="5.8.0")
    make_instance("c-overdue", observed_version="5.7.0")
    make_instance("d-held", observed_version="5.7.0", state=LifecycleState.SUSPENDED)
    client = client_for("devops")
    # when sorted by version SLA; then the earliest deadline first, those without one last
    expected = ["c-overdue", "b-due", "a-current", "d-held"]
    assert _all_orders(client, "version_sla") == [expected] * 3
    assert _page_order(client, "-version_sla") == ["b-due", "c-overdue", "a-current", "d-held"]
    # and the page says so in its cells
    body = client.get("/instances/", {"sort": "version_sla"}).content.decode()
    assert body.index("overdue by") < body.index("due in")


def test_the_sort_headers_link_to_the_registered_sorts(client_for):
    make_instance("acme-prod")
    body = client_for("devops").get("/instances/", {"sort": "health"}).content.decode()
    assert 'href="/instances/?sort=-health"' in body  # already sorted: the link reverses
    assert 'href="/instances/?sort=uptime"' in body
    assert 'href="/instances/?sort=version_sla"' in body
    assert '<option value="uptime">30 d uptime</option>' in body


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("overdue by 178 days", "overdue 178 d"),
        ("overdue by 1 day", "overdue 1 d"),
        ("due in 3 days", "due in 3 d"),
        ("not held: provisioning", "not held"),
        ("current", "current"),
    ],
)
def test_the_fleet_list_says_the_version_sla_in_few_words(text, short):
    assert sla_short(text) == short
