"""The health page and the maintenance actions: who may, what they do, what they say."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from health.choices import WindowKind
from health.models import HealthDaily, InstanceHealth, MaintenanceWindow
from mi_admin.audit.models import AuditEvent
from tests.fixtures.personas import PERSONAS
from tests.instances.factories import make_instance, make_release

pytestmark = pytest.mark.django_db

OK, LOGIN, DENY = 200, 302, 403
FMT = "%Y-%m-%dT%H:%M"
EXPECT = {
    # url name: (method, {persona: status}); anonymous goes to the login page
    "health:instance_health": ("get", dict.fromkeys(["ce", "devops", "manager", "admin"], OK)),
    "health:window_add": ("get", dict.fromkeys(["devops", "admin"], OK)),
    "health:mark_maintenance": ("get", {"admin": OK}),
}


@pytest.mark.parametrize("persona_name", PERSONAS)
@pytest.mark.parametrize("url_name", sorted(EXPECT))
def test_who_may_open_what(client_for, persona_name, url_name):
    # given an instance and a persona
    make_instance("acme-prod")
    method, allowed = EXPECT[url_name]
    url = reverse(url_name, kwargs={"slug": "acme-prod"})
    # when they open the page
    response = getattr(client_for(persona_name), method)(url)
    # then only the roles that carry the permission get in
    expected = LOGIN if persona_name == "anonymous" else allowed.get(persona_name, DENY)
    assert response.status_code == expected


def test_health_page_shows_state_uptime_version_and_actions(client_for):
    # given a healthy instance behind the newest release, with a weekly window
    make_release("5.9.0", released_at=timezone.now() - timedelta(days=2))
    acme = make_instance("acme-prod", observed_version="5.8.0")
    InstanceHealth.objects.create(instance=acme, state="healthy", last_probe_at=timezone.now())
    MaintenanceWindow.objects.create(
        instance=acme,
        kind=WindowKind.WEEKLY,
        weekday=6,
        start_time="23:00",
        duration_minutes=60,
        reason="weekly patching",
    )
    # when devops and an admin open the page
    devops_page = client_for("devops").get(reverse("health:instance_health", args=["acme-prod"]))
    admin_page = client_for("admin").get(reverse("health:instance_health", args=["acme-prod"]))
    # then both see the figures; only the admin sees the past-downtime action
    body = devops_page.content.decode()
    assert 'data-testid="health-state">Healthy<' in body
    assert "due in 5 days" in body
    assert "Sundays 23:00 UTC for 60 min" in body
    assert "weekly patching" in body
    assert reverse("health:window_add", args=["acme-prod"]) in body
    assert reverse("health:mark_maintenance", args=["acme-prod"]) not in body
    assert reverse("health:mark_maintenance", args=["acme-prod"]) in admin_page.content.decode()


def test_add_and_remove_a_window(client_for):
    # given an instance
    acme = make_instance("acme-prod")
    client = client_for("devops")
    # when devops adds a weekly window
    response = client.post(
        reverse("health:window_add", args=["acme-prod"]),
        {
            "kind": "weekly",
            "weekday": "2",
            "start_time": "03:00",
            "duration_minutes": "90",
            "reason": "OS patching",
        },
    )
    # then it exists, audited, and they are back on the health page
    assert response.status_code == 302
    assert response["Location"] == reverse("health:instance_health", args=["acme-prod"])
    window = MaintenanceWindow.objects.get(instance=acme)
    assert (window.weekday, window.duration_minutes) == (2, 90)
    assert window.created_by is not None
    assert window.created_by.username == "devops"
    # when they remove it
    response = client.post(reverse("health:window_delete", args=["acme-prod", window.pk]))
    # then it is gone, and both changes are in the audit trail
    assert response.status_code == 302
    assert not MaintenanceWindow.objects.exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="health.maintenance_window")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["health.maintenance_window.created", "health.maintenance_window.deleted"]


def test_window_form_errors_are_shown(client_for):
    # given an instance; when a one-off window ending before it starts is posted
    make_instance("acme-prod")
    response = client_for("admin").post(
        reverse("health:window_add", args=["acme-prod"]),
        {
            "kind": "one_off",
            "starts_at": "2030-01-02T10:00",
            "ends_at": "2030-01-02T09:00",
            "reason": "x",
        },
    )
    # then the form comes back with the reason, and nothing is saved
    assert response.status_code == 400
    assert "The window must end after it starts." in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_ce_cannot_remove_a_window(client_for):
    # given a window; when CE posts the delete; then it is refused and the window stays
    acme = make_instance("acme-prod")
    window = MaintenanceWindow.objects.create(
        instance=acme,
        kind=WindowKind.WEEKLY,
        weekday=1,
        start_time="01:00",
        duration_minutes=30,
        reason="x",
    )
    url = reverse("health:window_delete", args=["acme-prod", window.pk])
    assert client_for("ce").post(url).status_code == DENY
    assert client_for("manager").post(url).status_code == DENY
    assert MaintenanceWindow.objects.filter(pk=window.pk).exists()


def test_admin_marks_past_downtime(client_for):
    # given an instance
    make_instance("acme-prod")
    now = timezone.now()
    data = {
        "starts_at": (now - timedelta(hours=3)).strftime(FMT),
        "ends_at": (now - timedelta(hours=2)).strftime(FMT),
        "reason": "provider incident, agreed with the customer",
    }
    url = reverse("health:mark_maintenance", args=["acme-prod"])
    # when devops tries, then an admin
    refused = client_for("devops").post(url, data)
    response = client_for("admin").post(url, data, follow=True)
    # then devops is refused; the admin's range is recorded and audited
    assert refused.status_code == DENY
    assert response.status_code == 200
    assert "samples marked as maintenance" in response.content.decode()
    window = MaintenanceWindow.objects.get()
    assert window.retroactive
    assert window.reason == "provider incident, agreed with the customer"
    assert AuditEvent.objects.filter(action="health.downtime_marked_as_maintenance").exists()


def test_mark_form_errors_are_shown(client_for):
    # given an instance; when an admin posts a range in the future
    make_instance("acme-prod")
    now = timezone.now()
    response = client_for("admin").post(
        reverse("health:mark_maintenance", args=["acme-prod"]),
        {
            "starts_at": now.strftime(FMT),
            "ends_at": (now + timedelta(hours=1)).strftime(FMT),
            "reason": "x",
        },
    )
    # then the form says why
    assert response.status_code == 400
    assert "The range must be in the past" in response.content.decode()


def test_a_fresh_instance_page_says_over_how_many_days_its_30_day_uptime_runs(client_for):
    # given an instance with two days of perfect rollups (the day before yesterday, yesterday)
    acme = make_instance("acme-prod")
    today = timezone.now().date()
    for days_ago in (1, 2):
        HealthDaily.objects.create(
            instance=acme, day=today - timedelta(days=days_ago), samples=1440, ok_samples=1440
        )
    # when its health page is opened
    body = client_for("ce").get(reverse("health:instance_health", args=["acme-prod"]))
    # then the 30-day figure says it rests on 3 days (through today)
    text = body.content.decode()
    pattern = r'data-testid="uptime-30d">100\.00 %\s*<span class="muted">over 3 days</span>'
    assert re.search(pattern, text)
