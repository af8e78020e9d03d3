"""Maintenance windows: what they cover, muting alerts, and the forms' checks."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from health.choices import HealthState, WindowKind
from health.forms import MaintenanceWindowForm, MarkMaintenanceForm
from health.models import HealthSample, Incident, MaintenanceWindow
from health.selectors.maintenance import in_maintenance
from health.services.maintenance import (
    MaintenanceError,
    window_create_one_off,
    window_delete,
)
from tests.health.conftest import health_of
from tests.instances.factories import make_instance

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "covered"),
    [
        (MONDAY - timedelta(hours=1, minutes=1), False),  # Sunday 22:59
        (MONDAY - timedelta(hours=1), True),  # Sunday 23:00, the start
        (MONDAY + timedelta(minutes=59), True),  # Monday 00:59, across the week's end
        (MONDAY + timedelta(hours=1), False),  # Monday 01:00, the end (exclusive)
        (MONDAY + timedelta(days=7, minutes=30), True),  # a week later
    ],
)
def test_weekly_window_spans_midnight(moment, covered):
    # given a window on Sundays at 23:00 UTC for two hours
    window = MaintenanceWindow(
        kind=WindowKind.WEEKLY, weekday=6, start_time=time(23, 0), duration_minutes=120
    )
    # when asked about a moment; then it covers exactly [Sun 23:00, Mon 01:00)
    assert window.covers(moment) is covered


def test_one_off_window_is_half_open():
    # given a one-off window from 10:00 to 11:00
    start = MONDAY + timedelta(hours=10)
    window = MaintenanceWindow(
        kind=WindowKind.ONE_OFF, starts_at=start, ends_at=start + timedelta(hours=1)
    )
    # then it covers its start, not its end
    assert window.covers(start)
    assert not window.covers(start + timedelta(hours=1))
    assert not window.covers(start - timedelta(seconds=1))


@pytest.mark.django_db
@pytest.mark.usefixtures("eager_tasks")
def test_maintenance_mutes_alerts(fleetsim, sim_instance, run_sweep, alert_channels, devops):
    # given a failing instance inside a maintenance window
    acme = sim_instance("acme-prod", health_mode="error")
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        instance=acme,
        kind=WindowKind.ONE_OFF,
        reason="database upgrade",
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
    )
    assert in_maintenance(acme.pk)
    # when four sweeps run
    for _ in range(4):
        run_sweep()
    # then it is down, its samples are maintenance, and nobody was paged
    assert health_of(acme).state == HealthState.DOWN
    assert HealthSample.objects.filter(instance=acme, in_maintenance=True).count() == 4
    assert not Incident.objects.exists()
    assert alert_channels.requests == []
    # when the window is removed and the instance is still down
    window_delete(window=window, actor=devops)
    run_sweep()
    # then it pages now
    assert Incident.objects.get().state == "open"
    assert len([r for r in alert_channels.requests if r.route == "/v2/enqueue"]) == 1


def form_errors(form) -> dict[str, list[str]]:
    assert not form.is_valid()
    return {name: list(errors) for name, errors in form.errors.items()}


def test_window_form_parses_what_each_kind_needs():
    # given forms missing what their kind needs; then each names the problem
    weekly = MaintenanceWindowForm({"kind": "weekly", "reason": "patching"})
    assert form_errors(weekly) == {
        "weekday": ["Required for a weekly window."],
        "start_time": ["Required for a weekly window."],
        "duration_minutes": ["Required for a weekly window."],
    }
    no_end = MaintenanceWindowForm(
        {"kind": "one_off", "reason": "x", "starts_at": "2030-01-02T10:00", "ends_at": ""}
    )
    assert form_errors(no_end) == {"ends_at": ["Required for a one-off window."]}
    too_long = MaintenanceWindowForm(
        {
            "kind": "weekly",
            "reason": "x",
            "weekday": "1",
            "start_time": "02:00",
            "duration_minutes": "20000",
        }
    )
    # and a length the service refuses still parses (the form does not judge it)
    assert too_long.is_valid(), too_long.errors
    assert too_long.cleaned_data["duration_minutes"] == 20000


def test_window_form_reads_utc():
    # given a one-off window entered without an offset
    form = MaintenanceWindowForm(
        {
            "kind": "one_off",
            "reason": "x",
            "starts_at": "2030-01-02T10:00",
            "ends_at": "2030-01-02T11:30",
        }
    )
    # then the times are UTC
    assert form.is_valid(), form.errors
    assert form.cleaned_data["starts_at"] == datetime(2030, 1, 2, 10, 0, tzinfo=UTC)


def test_mark_form_parses_only():
    # given a form with blanks and one with a time that is no time; then each names the field
    missing = MarkMaintenanceForm({"starts_at": "", "ends_at": "", "reason": ""})
    assert set(form_errors(missing)) == {"starts_at", "ends_at", "reason"}
    garbled = MarkMaintenanceForm(
        {"starts_at": "yesterday", "ends_at": "2026-01-02T09:00", "reason": "x"}
    )
    assert set(form_errors(garbled)) == {"starts_at"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("starts_in", "ends_in", "message"),
    [
        (timedelta(hours=2), timedelta(hours=1), "must end after it starts"),
        (timedelta(hours=-3), timedelta(hours=-2), "an Admin can mark it as maintenance"),
    ],
)
def test_window_rules_live_in_the_service(admin_user, starts_in, ends_in, message):
    # given an instance; when a one-off window ending before it starts, or in the past, is added
    acme = make_instance("acme-prod")
    now = timezone.now()
    with pytest.raises(MaintenanceError, match=message):
        window_create_one_off(
            instance=acme,
            starts_at=now + starts_in,
            ends_at=now + ends_in,
            reason="x",
            actor=admin_user,
        )
    # then nothing was saved
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.django_db
def test_marked_downtime_cannot_be_deleted(admin_user):
    # given past downtime marked as maintenance
    acme = make_instance("acme-prod")
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        instance=acme,
        kind=WindowKind.ONE_OFF,
        starts_at=now - timedelta(hours=2),
        ends_at=now - timedelta(hours=1),
        reason="x",
        retroactive=True,
    )
    # when someone tries to delete it; then it is refused
    with pytest.raises(MaintenanceError, match="cannot be removed"):
        window_delete(window=window, actor=admin_user)
    assert MaintenanceWindow.objects.filter(pk=window.pk).exists()
