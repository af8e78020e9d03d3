"""The audit trail: hash chain, append-only trigger, tamper detection, what gets recorded."""

from __future__ import annotations

import json
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from mi_admin.audit.chain import GENESIS
from mi_admin.audit.models import AuditEvent
from mi_admin.audit.selectors import audit_chain_verify
from mi_admin.audit.services import audit_record


def _record_some(n: int, actor=None) -> list[AuditEvent]:
    return [
        audit_record(
            action="test.thing",
            actor=actor,
            object_type="test.widget",
            object_id=str(i),
            object_repr=f"widget {i}",
            before={"n": i},
            after={"n": i + 1},
        )
        for i in range(n)
    ]


def _raw(sql: str, params: list[int | str] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def test_events_form_a_chain(db, devops):
    # given three recorded events
    first, second, third = _record_some(3, actor=devops)
    # then each points at the one before, starting from the genesis hash
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert third.actor_label == "devops"
    report = audit_chain_verify()
    assert report.ok
    assert report.checked == AuditEvent.objects.count()


def test_verify_command_reports_an_intact_chain(db, capsys):
    # given a few events; when audit_verify runs; then it says the chain is intact
    _record_some(4)
    call_command("audit_verify")
    assert "Audit chain intact" in capsys.readouterr().out


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'forged' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
    ids=["update", "delete"],
)
def test_postgres_trigger_refuses_update_and_delete(db, statement):
    # given an event on PostgreSQL
    assert connection.vendor == "postgresql"
    event = _record_some(1)[0]
    # when anyone tries to rewrite or remove it with raw SQL
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _raw(statement, [event.id])
    # then it is still there, unchanged
    assert AuditEvent.objects.get(id=event.id).action == "test.thing"


def test_orm_update_is_refused_too(db):
    # given an event; when the ORM tries to change it; then the database refuses
    event = _record_some(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(id=event.id).update(actor_label="someone else")


def _tamper(sql: str, params: list[int | str]) -> None:
    # What a DBA with superuser rights could do behind the application's back.
    _raw("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
    try:
        _raw(sql, params)
    finally:
        _raw("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


@pytest.mark.audit_tampering
def test_verify_names_a_row_altered_by_raw_sql(db):
    # given five events, the third altered by raw SQL with the trigger disabled
    events = _record_some(5)
    victim = events[2]
    _tamper(
        "UPDATE audit_auditevent SET after = %s WHERE id = %s", [json.dumps({"n": 999}), victim.id]
    )
    # when the chain is verified
    with pytest.raises(CommandError) as excinfo:
        call_command("audit_verify")
    # then the command names that row as the first broken link
    assert f"broken at event {victim.id}" in str(excinfo.value)
    assert "content does not match" in str(excinfo.value)


@pytest.mark.audit_tampering
def test_verify_names_the_row_after_a_deleted_one(db):
    # given five events, the second deleted by raw SQL
    events = _record_some(5)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].id])
    # when verified; then the row after the gap is named
    report = audit_chain_verify()
    assert report.broken is not None
    assert report.broken.event_id == events[2].id


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain():
    # given four threads appending at once, each in its own transaction and connection
    def write() -> None:
        try:
            for _ in range(10):
                with transaction.atomic():
                    audit_record(action="test.concurrent")
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(4)]
    # when they all run
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then the chain has every event and no fork
    report = audit_chain_verify()
    assert report.ok, report.broken
    assert report.checked == 40


def test_login_and_logout_are_recorded(client, devops):
    # given devops; when they sign in and out
    client.force_login(devops)
    client.post(reverse("accounts:logout"))
    # then both are in the trail, with their name
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor_label"))
    assert ("auth.login", "devops") in actions
    assert ("auth.logout", "devops") in actions


def test_failed_login_is_recorded_without_the_password(db):
    # given a failed password login attempt
    from django.contrib.auth import authenticate

    authenticate(username="mallory", password="hunter2-secret")
    # then a failure event names the username and keeps no password
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor_label == "mallory"
    assert "hunter2" not in json.dumps(event.after)


def test_django_admin_changes_are_recorded(client_for):
    # given an admin; when they add a group in Django admin
    client = client_for("admin")
    response = client.post("/admin/auth/group/add/", {"name": "auditors"})
    # then the change is in the trail
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="admin.add")
    assert event.object_type == "auth.group"
    assert event.object_repr == "auditors"
    assert event.actor_label == "admin"
