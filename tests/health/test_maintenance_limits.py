"""One-off maintenance windows are bounded: at most MAINTENANCE_WINDOW_MAX_DAYS long, never
wholly in the past (past downtime is marked after the fact, by an Admin)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

from health.models import MaintenanceWindow
from health.services.maintenance import (
    MaintenanceError,
    maintenance_mark_past,
    window_create_one_off,
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
