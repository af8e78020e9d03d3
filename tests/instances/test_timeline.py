"""The instance timeline: every app's events about one instance, merged newest first,
filtered by kind, paged, exported."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from health.models import HealthTransition, Incident, MaintenanceWindow
from instances.choices import OperationKind, OperationState
from instances.timeline import instance_timeline, timeline_sources
from mi_admin.audit.services import audit_record
from tests.access.factories import make_access_grant
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance, make_operation
from tests.mi_requests.factories import make_request

pytestmark = pytest.mark.django_db


def _story():
    """One instance with one event of every kind, an hour apart, oldest first."""
    instance = make_instance("story-prod")
    devops = make_persona("devops")
    start = timezone.now() - timedelta(days=1)

    def hour(n: int):
        return start + timedelta(hours=n)

    make_operation(
        instance, kind=OperationKind.SYNC, state=OperationState.SUCCEEDED, finished_at=hour(0)
    )
    # a probe operation is left out: the health transitions tell what probes changed
    make_operation(
        instance, kind=OperationKind.PROBE, state=OperationState.SUCCEEDED, finished_at=hour(0)
    )
    HealthTransition.objects.create(
        instance=instance, from_state="healthy", to_state="down", at=hour(1), reason="timeout"
    )
    Incident.objects.create(
        instance=instance,
        cause="down",
        dedup_key="story-prod:down",
        state="resolved",
        summary="story-prod is down",
        opened_at=hour(2),
        resolved_at=hour(4),
    )
    MaintenanceWindow.objects.create(
        instance=instance,
        kind="one_off",
        reason="disk resize",
        starts_at=hour(3),
        ends_at=hour(3) + timedelta(minutes=30),
    )
    audit_record(
        action="instance.version_upgraded",
        obj=instance,
        before={"version": "5.7.0"},
        after={"version": "5.8.0"},
        at=hour(5),
    )
    audit_record(action="instance.owner_changed", obj=instance, actor=devops, at=hour(6))
    grant = make_access_grant(devops, instance)
    type(grant).objects.filter(pk=grant.pk).update(created_at=hour(7))
    make_request(devops, instance, submitted_at=hour(8))
    return instance


def test_every_app_registers_its_sources():
    # given the apps loaded, then each contributed its kinds (instances imports none of them)
    assert {source.kind for source in timeline_sources()} == {
        "operation",
        "version",
        "audit",
        "health",
        "incident",
        "maintenance",
        "access",
        "rollout",
        "request",
    }


def test_the_timeline_tells_the_story_newest_first():
    # given an instance with one event of each kind
    instance = _story()
    # when its timeline is read
    page = instance_timeline(instance=instance)
    # then every event is there, newest first, each under its kind
    assert [(event.kind, event.title) for event in page.events] == [
        ("request", f"Suspension request #{instance.requests.get().pk}"),
        ("access", "Access requested: SSH (OS Login)"),
        ("audit", "Owner changed"),
        ("version", "Version upgraded"),
        ("incident", "Incident resolved (Instance down)"),
        ("maintenance", "Maintenance window (one-off)"),
        ("incident", "Incident opened (Instance down)"),
        ("health", "Health healthy → down"),
        ("operation", "Inventory sync succeeded"),
    ]
    assert page.events[3].detail == "version: 5.7.0 → 5.8.0"
    assert page.older_than is None


def test_the_timeline_filters_by_kind():
    instance = _story()
    page = instance_timeline(instance=instance, kinds={"incident", "health"})
    assert [event.kind for event in page.events] == ["incident", "incident", "health"]


def test_pages_cover_every_event_once():
    # given more events than a page holds
    instance = _story()
    seen: list[str] = []
    before = None
    # when the pages are walked through the "older" cursor
    for _ in range(10):
        page = instance_timeline(instance=instance, before=before, limit=4)
        seen.extend(event.title for event in page.events)
        if page.older_than is None:
            break
        before = page.older_than
    # then each event came once, in order
    assert len(seen) == 9
    assert len(set(seen)) == 9
    assert seen[-1] == "Inventory sync succeeded"


def test_the_page_and_its_export(client_for):
    instance = _story()
    client = client_for("ce")
    # the instance page links to the timeline
    detail = client.get(f"/instances/{instance.slug}/").content.decode()
    assert f'href="/instances/{instance.slug}/timeline/"' in detail
    # the page lists the events
    page = client.get(f"/instances/{instance.slug}/timeline/", {"kind": ["incident"]})
    assert page.status_code == 200
    assert page.content.decode().count('data-testid="timeline-event"') == 2
    # the export has the same filtered rows
    response = client.get(f"/instances/{instance.slug}/timeline.csv", {"kind": ["health"]})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["kind"], row["title"], row["outcome"]) for row in rows] == [
        ("health", "Health healthy → down", "down")
    ]


def test_a_bad_filter_is_refused_with_the_reason(client_for):
    instance = _story()
    client = client_for("devops")
    page = client.get(f"/instances/{instance.slug}/timeline/", {"kind": "nonsense"})
    assert page.status_code == 400
    assert "nonsense is not one of the available choices" in page.content.decode()
    export = client.get(f"/instances/{instance.slug}/timeline.csv", {"before": "yesterday"})
    assert export.status_code == 400
    assert "Enter a valid date/time" in export.content.decode()
    assert client.get("/instances/no-such/timeline/").status_code == 404


def test_each_source_reads_at_most_its_limit():
    # given an instance with many events of each kind
    instance = _story()
    devops = make_persona("devops")
    for i in range(5):
        make_operation(instance, state=OperationState.SUCCEEDED)
        HealthTransition.objects.create(
            instance=instance, from_state="down", to_state="healthy", at=timezone.now()
        )
        audit_record(action="instance.owner_changed", obj=instance, actor=devops)
        make_access_grant(devops, instance)
        make_request(devops, instance)
        Incident.objects.create(
            instance=instance,
            cause="down",
            dedup_key=f"more-{i}",
            state="resolved",
            summary="down",
            opened_at=timezone.now(),
            resolved_at=timezone.now(),
        )
    # when each source is asked for two, then none returns more than two (an incident's
    # opening and resolution come together: at most two each)
    for source in timeline_sources():
        events = source.load(instance, None, 2)
        bound = 4 if source.kind == "incident" else 2
        assert len(events) <= bound, source.kind
        if source.kind in {"operation", "health", "audit", "access", "request", "incident"}:
            assert len(events) >= 2, source.kind
