"""Maintenance windows are bounded: one-off windows at most MAINTENANCE_WINDOW_MAX_DAYS long,
never wholly in the past (past downtime is marked after the fact, by an Admin); weekly ones 1
minute to 7 days. The service says so; the page shows its message."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

from health.models import MaintenanceWindow
from health.services.maintenance import (
    MaintenanceError,
    maintenance_mark_past,
    window_create_one_off,
    window_create_weekly,
)
from mi_admin.accounts.models import User
from mi_admin.audit.models import AuditEvent
from tests.instances.factories import make_instance

pytestmark = pytest.mark.django_db
FMT = "%Y-%m-%dT%H:%M"


def test_a_window_of_exactly_the_maximum_is_accepted(devops: User) -> None:
    # given the default maximum of 7 days
    acme = make_instance("acme-prod")
    start = timezone.now() + timedelta(hours=1)
    # when
    window = window_create_one_off(
        instance=acme,
        starts_at=start,
        ends_at=start + timedelta(days=7),
        reason="datacentre move",
        actor=devops,
    )
    # then
    assert MaintenanceWindow.objects.filter(pk=window.pk).exists()


def test_a_longer_window_is_refused_and_nothing_is_recorded(devops: User) -> None:
    # given
    acme = make_instance("acme-prod")
    start = timezone.now() + timedelta(hours=1)
    # when / then
    with pytest.raises(MaintenanceError, match=r"at most 7 days .* lasts 7\.0 days"):
        window_create_one_off(
            instance=acme,
            starts_at=start,
            ends_at=start + timedelta(days=7, minutes=1),
            reason="forever",
            actor=devops,
        )
    assert not MaintenanceWindow.objects.exists()
    assert not AuditEvent.objects.filter(action="health.maintenance_window.created").exists()


def test_years_long_windows_are_refused(devops: User) -> None:
    acme = make_instance("acme-prod")
    now = timezone.now()
    with pytest.raises(MaintenanceError, match="at most 7 days"):
        window_create_one_off(
            instance=acme,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=3 * 365),
            reason="mute it",
            actor=devops,
        )


def test_the_maximum_is_a_setting(devops: User, settings: Settings) -> None:
    # given a 2-day maximum
    settings.MAINTENANCE_WINDOW_MAX_DAYS = 2
    acme = make_instance("acme-prod")
    start = timezone.now() + timedelta(hours=1)
    # then 3 days are refused
    with pytest.raises(MaintenanceError, match="at most 2 days"):
        window_create_one_off(
            instance=acme,
            starts_at=start,
            ends_at=start + timedelta(days=3),
            reason="x",
            actor=devops,
        )


def test_a_wholly_past_window_is_refused_but_an_admin_can_mark_the_downtime(
    devops: User, admin_user: User
) -> None:
    # given
    acme = make_instance("acme-prod")
    now = timezone.now()
    past = {"starts_at": now - timedelta(hours=3), "ends_at": now - timedelta(hours=1)}
    # when a planned window is asked for in the past, it is refused, pointing elsewhere
    with pytest.raises(MaintenanceError, match="an Admin can mark it as maintenance"):
        window_create_one_off(instance=acme, reason="x", actor=devops, **past)
    # and the after-the-fact path takes the same range
    marked = maintenance_mark_past(
        instance=acme, reason="outage was planned work", actor=admin_user, retention_days=35, **past
    )
    assert marked.window.retroactive


def test_the_page_shows_the_limit_and_saves_nothing(client_for) -> None:
    # given
    make_instance("acme-prod")
    start = timezone.now() + timedelta(hours=1)
    # when a devops person posts a 30-day window
    response = client_for("devops").post(
        reverse("health:window_add", args=["acme-prod"]),
        {
            "kind": "one_off",
            "starts_at": start.strftime(FMT),
            "ends_at": (start + timedelta(days=30)).strftime(FMT),
            "reason": "long project",
        },
    )
    # then
    assert response.status_code == 400
    assert "A maintenance window can last at most 7 days" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"duration_minutes": "20000"}, "A weekly window lasts 1 to 10080 minutes (7 days)"),
        ({"duration_minutes": "0"}, "A weekly window lasts 1 to 10080 minutes (7 days)"),
        (
            {"kind": "one_off", "starts_at": "2030-01-02T10:00", "ends_at": "2030-01-02T09:00"},
            "The window must end after it starts.",
        ),
    ],
)
def test_the_window_page_shows_the_services_refusal(client_for, fields, refusal) -> None:
    # given an instance
    make_instance("acme-prod")
    weekly = {"kind": "weekly", "weekday": "1", "start_time": "02:00", "reason": "patching"}
    # when devops submits a window the form parses but the service refuses
    response = client_for("devops").post(
        reverse("health:window_add", args=["acme-prod"]), {**weekly, **fields}
    )
    # then the page shows the service's message and nothing is recorded
    assert response.status_code == 400
    shown = response.context["form"].non_field_errors()
    assert len(shown) == 1
    assert shown[0].startswith(refusal)
    assert response.context["form"].errors.keys() == {"__all__"}
    assert not MaintenanceWindow.objects.exists()


def test_the_service_refuses_a_weekly_window_out_of_range(devops: User) -> None:
    # given an instance; when a weekly window of 0 minutes, 8 days or weekday 7 is asked for
    acme = make_instance("acme-prod")
    for weekday, minutes in [(1, 0), (1, 8 * 24 * 60), (7, 60)]:
        with pytest.raises(MaintenanceError):
            window_create_weekly(
                instance=acme,
                weekday=weekday,
                start_time=time(2, 0),
                duration_minutes=minutes,
                reason="patching",
                actor=devops,
            )
    # then nothing is recorded
    assert not MaintenanceWindow.objects.exists()
