"""The instance page's maintenance window: shown to everyone, set and removed by DevOps and
Admins (audited), refused with the reason and the input kept; the database refuses a window
of the wrong shape whatever writes it."""

from __future__ import annotations

from datetime import time

import pytest
from django.db import IntegrityError, transaction

from instances.models import Instance
from mi_admin.audit.models import AuditEvent
from tests.instances.factories import make_instance

PAGE = "/instances/acme-prod/"
POST = "/instances/acme-prod/maintenance-window/"


def test_devops_sets_a_window_it_is_shown_and_audited(client_for, db):
    instance = make_instance("acme-prod")
    client = client_for("devops")
    # the page says there is none, and offers the form
    body = client.get(PAGE).content.decode()
    assert "None: a rollout started" in body
    assert 'data-testid="maintenance-window-form"' in body
    # when devops saves Tuesday and Thursday 23:30 UTC for 90 minutes
    response = client.post(
        POST, {"days": ["1", "3"], "start": "23:30", "minutes": "90", "action": "set"}
    )
    assert response.status_code == 302
    # then it is stored and shown
    instance.refresh_from_db()
    assert (
        instance.maintenance_days,
        instance.maintenance_start,
        instance.maintenance_minutes,
    ) == (
        0b1010,
        time(23, 30),
        90,
    )
    body = client.get(PAGE).content.decode()
    assert "Tue, Thu 23:30 UTC for 1 h 30 min" in body
    # and audited with before and after
    event = AuditEvent.objects.get(action="instance.maintenance_window_set")
    assert event.before == {"maintenance_window": ""}
    assert event.after == {"maintenance_window": "Tue, Thu 23:30 UTC for 1 h 30 min"}
    assert event.actor is not None
    assert event.actor.username == "devops"
    # saving the same window again writes nothing more
    client.post(POST, {"days": ["1", "3"], "start": "23:30", "minutes": "90", "action": "set"})
    assert AuditEvent.objects.filter(action__startswith="instance.maintenance_window").count() == 1


def test_an_admin_removes_the_window(client_for, db):
    instance = make_instance(
        "acme-prod", maintenance_days=1, maintenance_start=time(2), maintenance_minutes=60
    )
    response = client_for("admin").post(POST, {"action": "remove"})
    assert response.status_code == 302
    instance.refresh_from_db()
    assert instance.maintenance_window is None
    event = AuditEvent.objects.get(action="instance.maintenance_window_removed")
    assert event.before == {"maintenance_window": "Mon 02:00 UTC for 1 h"}


@pytest.mark.parametrize(
    ("post", "reason"),
    [
        ({"start": "02:00", "minutes": "60"}, "Choose at least one day"),
        ({"days": ["1"], "minutes": "60"}, "Give the window&#x27;s start"),
        ({"days": ["1"], "start": "2am", "minutes": "60"}, "Enter a valid time"),
        ({"days": ["1"], "start": "02:00", "minutes": "1441"}, "less than or equal to 1440"),
        ({"days": ["9"], "start": "02:00", "minutes": "60"}, "Select a valid choice"),
    ],
)
def test_a_bad_window_is_refused_with_the_reason_and_the_input_kept(client_for, db, post, reason):
    instance = make_instance("acme-prod")
    response = client_for("devops").post(POST, {**post, "action": "set"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-testid="window-error"' in body
    assert reason in body
    if "minutes" in post:
        assert f'name="minutes" min="1" max="1440" value="{post["minutes"]}"' in body
    instance.refresh_from_db()
    assert instance.maintenance_window is None
    assert not AuditEvent.objects.filter(action__startswith="instance.maintenance").exists()


def test_ce_sees_the_window_but_no_form(client_for, db):
    make_instance(
        "acme-prod", maintenance_days=64, maintenance_start=time(23), maintenance_minutes=180
    )
    body = client_for("ce").get(PAGE).content.decode()
    assert "Sun 23:00 UTC for 3 h" in body
    assert 'data-testid="maintenance-window-form"' not in body


@pytest.mark.parametrize(
    "fields",
    [
        {"maintenance_days": 1},  # days without a start
        {"maintenance_days": 128, "maintenance_start": time(2), "maintenance_minutes": 60},
        {"maintenance_days": 1, "maintenance_start": time(2), "maintenance_minutes": 0},
        {"maintenance_days": 1, "maintenance_start": time(2), "maintenance_minutes": 1441},
        {"maintenance_days": 0, "maintenance_start": time(2)},  # a start without days
    ],
)
def test_the_database_refuses_a_window_of_the_wrong_shape(db, fields):
    instance = make_instance("acme-prod")
    with pytest.raises(IntegrityError), transaction.atomic():
        Instance.objects.filter(pk=instance.pk).update(**fields)


def test_the_database_refuses_a_cloud_sql_instance_on_a_v1_0_instance(db):
    instance = make_instance("acme-prod", architecture="v1.0")
    with pytest.raises(IntegrityError), transaction.atomic():
        Instance.objects.filter(pk=instance.pk).update(cloud_sql_instance="acme-pg")
