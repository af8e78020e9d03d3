"""The health API: incidents with the incidents page's filters, and an instance's uptime
figures with how many days the 30-day one rests on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from health.choices import IncidentCause, IncidentState
from health.models import HealthDaily, Incident
from health.rollups import day_of
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance

INCIDENTS = "/api/v1/incidents/"


@pytest.fixture
def api(db: None, token_for: Callable[..., str]) -> Callable[[str], Client]:
    def build(name: str) -> Client:
        make_persona(name)
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_for(name)}")

    return build


def _incident(slug: str, cause: str, hours_ago: int, **fields) -> Incident:
    instance = make_instance(slug)
    return Incident.objects.create(
        instance=instance,
        cause=cause,
        dedup_key=f"mi-admin/{slug}/{cause}",
        summary=f"{slug} {cause}",
        opened_at=timezone.now() - timedelta(hours=hours_ago),
        **fields,
    )


def test_incidents_newest_first_and_filtered(api):
    # given a resolved version incident, an acknowledged down one and a fresh down one
    ce = api("ce")
    old = _incident(
        "acme-prod",
        IncidentCause.VERSION_SLA,
        48,
        state=IncidentState.RESOLVED,
        resolved_at=timezone.now() - timedelta(hours=40),
    )
    acked = _incident(
        "globex-test",
        IncidentCause.DOWN,
        5,
        acknowledged_at=timezone.now(),
        acknowledged_by=make_persona("devops"),
    )
    fresh = _incident("initech-prod", IncidentCause.DOWN, 1)

    def ids(**query: str) -> list[int]:
        response = ce.get(INCIDENTS, query)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    # then the list is newest first, and each filter narrows it as on the page
    assert ids() == [fresh.pk, acked.pk, old.pk]
    assert ids(cause="down") == [fresh.pk, acked.pk]
    assert ids(state="unacknowledged") == [fresh.pk]
    assert ids(state="acknowledged") == [acked.pk]
    assert ids(state="resolved") == [old.pk]
    assert ids(instance="globex") == [acked.pk]
    since = (timezone.now() - timedelta(hours=10)).strftime("%Y-%m-%d %H:%M")
    assert ids(since=since) == [fresh.pk, acked.pk]
    # and a row says who acknowledged it
    row = ce.get(INCIDENTS, {"state": "acknowledged"}).json()["results"][0]
    assert (row["instance"], row["acknowledged_by"], row["note_count"]) == (
        "globex-test",
        "devops",
        0,
    )
    # and a bad filter is a 400, not everything
    assert ce.get(INCIDENTS, {"cause": "gremlins"}).status_code == 400


def test_cursor_pages_walk_every_incident_once(api):
    ce = api("ce")
    made = {_incident(f"i{n}-prod", IncidentCause.DOWN, n + 1).pk for n in range(5)}
    seen: list[int] = []
    url = f"{INCIDENTS}?page_size=2"
    while url:
        page = ce.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(made)
    assert len(seen) == 5


def test_uptime_from_the_rollups_with_coverage(api):
    # given two days of rollups: 100 % yesterday, 90 % the day before
    ce = api("ce")
    acme = make_instance("acme-prod")
    today = day_of(timezone.now())
    for days_ago, ok in [(1, 1000), (2, 900)]:
        HealthDaily.objects.create(
            instance=acme, day=today - timedelta(days=days_ago), samples=1000, ok_samples=ok
        )
    # when the uptime is read
    response = ce.get("/api/v1/instances/acme-prod/uptime/")
    # then 7 d and 30 d are 95 %, 24 h has no raw sample, and 30 d rests on 3 days
    assert response.status_code == 200, response.content
    assert response.json() == {
        "instance": "acme-prod",
        "uptime_24h": None,
        "uptime_7d": 95.0,
        "uptime_30d": 95.0,
        "days_30d": 3,
        "coverage_30d": "over 3 days",
    }
    # and an unknown instance is a 404
    assert ce.get("/api/v1/instances/nope/uptime/").status_code == 404
