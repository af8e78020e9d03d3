"""Signed checkpoints (issue 8.8): TRUNCATE is refused; truncation, tail deletion and a
re-hashed chain are all detected, from the stored checkpoints or a logged one."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import override_settings

from mi_admin.audit.chain import GENESIS
from mi_admin.audit.checkpoints import LOG_PREFIX, checkpoint_claim, parse_log_line
from mi_admin.audit.models import AuditCheckpoint, AuditEvent
from mi_admin.audit.selectors import _row_hash, audit_chain_verify
from mi_admin.audit.services import audit_checkpoint_record, audit_record
from mi_admin.audit.tasks import audit_checkpoint


def _record(n: int) -> list[AuditEvent]:
    return [audit_record(action="test.thing", object_id=str(i), after={"n": i}) for i in range(n)]


def _sql(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def _as_owner(sql: str, params: list[Any] | None = None) -> None:
    """What the tables' owner (or a superuser) can do: switch the triggers off first."""
    for table in ("audit_auditevent", "audit_auditcheckpoint"):
        _sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        _sql(sql, params)
    finally:
        for table in ("audit_auditevent", "audit_auditcheckpoint"):
            _sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _reasons() -> list[str]:
    return [link.reason for link in audit_chain_verify().breaks]


@pytest.mark.parametrize("table", ["audit_auditevent", "audit_auditcheckpoint"])
def test_truncate_is_refused(db, table):
    # given events and a checkpoint
    _record(2)
    audit_checkpoint_record(reason=AuditCheckpoint.Reason.PERIODIC)
    # when someone without the test suite's escape hatch truncates a table
    with transaction.atomic():
        _sql("SET LOCAL mi_audit.allow_truncate = 'off'")
        with (
            pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"),
            transaction.atomic(),
        ):
            _sql(f"TRUNCATE {table}")
    # then nothing is gone
    assert AuditEvent.objects.count() == 2
    assert AuditCheckpoint.objects.count() == 1


def test_checkpoints_are_append_only_too(db):
    _record(1)
    checkpoint = audit_checkpoint_record(reason=AuditCheckpoint.Reason.PERIODIC)
    assert checkpoint is not None
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _sql("UPDATE audit_auditcheckpoint SET event_count = 99 WHERE id = %s", [checkpoint.id])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _sql("DELETE FROM audit_auditcheckpoint WHERE id = %s", [checkpoint.id])


@pytest.mark.audit_tampering  # on purpose
def test_truncation_by_the_owner_is_detected(db):
    # given a checkpointed trail
    _record(3)
    audit_checkpoint_record(reason=AuditCheckpoint.Reason.PERIODIC)
    # when the owner truncates the events (triggers off)
    _as_owner("TRUNCATE audit_auditevent")
    # then audit_verify names the missing, signed event
    with pytest.raises(CommandError, match="missing"):
        call_command("audit_verify")


@pytest.mark.audit_tampering  # on purpose
def test_tail_deletion_is_detected(db):
    # given five events and a checkpoint over them
    events = _record(5)
    audit_checkpoint_record(reason=AuditCheckpoint.Reason.PERIODIC)
    # when the newest two are deleted (the chain of the three left is intact)
    _as_owner("DELETE FROM audit_auditevent WHERE id >= %s", [events[3].id])
    # then the checkpoint shows what is missing
    reasons = _reasons()
    assert len(reasons) == 1
    assert f"event {events[4].id} is missing" in reasons[0]


@pytest.mark.audit_tampering  # on purpose
def test_deleting_a_row_before_a_checkpoint_changes_its_count(db):
    # given a checkpoint over five events
    events = _record(5)
    audit_checkpoint_record(reason=AuditCheckpoint.Reason.PERIODIC)
    # when the second is deleted
    _as_owner("DELETE FROM audit_auditevent WHERE id = %s", [events[1].id])
    # then the broken link and the count are both reported
    reasons = _reasons()
    assert "previous hash does not match the row before it" in reasons
    assert any("4 events up to" in r and "5 signed" in r for r in reasons)


def _rehash_from(event_id: int) -> None:
    prev = (
        AuditEvent.objects.filter(id__lt=event_id)
        .order_by("-id")
        .values_list("hash", flat=True)
        .first()
        or GENESIS
    )
    for event in AuditEvent.objects.filter(id__gte=event_id).order_by("id"):
        event.prev_hash = prev
        new_hash = _row_hash(event)
        _as_owner(
            "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [prev, new_hash, event.id],
        )
        prev = new_hash


@pytest.mark.audit_tampering  # on purpose
def test_a_rewritten_and_rehashed_chain_is_detected(db):
    # given a checkpointed trail
    events = _record(5)
    audit_checkpoint_record(reason=AuditCheckpoint.Reason.PERIODIC)
    # when the owner edits the second row and recomputes every hash after it
    _as_owner(
        "UPDATE audit_auditevent SET after = %s WHERE id = %s",
        [json.dumps({"n": 999}), events[1].id],
    )
    _rehash_from(events[1].id)
    # then the chain alone holds ...
    assert all("checkpoint" in reason for reason in _reasons())
    # ... but the checkpoint's signed hash does not
    with pytest.raises(CommandError, match="differs from the signed one"):
        call_command("audit_verify")


@pytest.mark.audit_tampering  # on purpose
def test_a_forged_checkpoint_is_detected(db):
    # given a trail; when someone inserts a checkpoint signed with another key
    events = _record(2)
    with override_settings(AUDIT_CHECKPOINT_KEY="not-the-real-key"):
        forged = checkpoint_claim(events[-1].id, events[-1].hash, 2)
    AuditCheckpoint.objects.create(
        created_at=events[-1].created_at,
        last_event_id=forged.last_id,
        last_hash=forged.last_hash,
        event_count=forged.count,
        reason=AuditCheckpoint.Reason.PERIODIC,
        signature=forged.signature,
    )
    # then it does not count as a witness: it is reported
    assert any("signature invalid" in r for r in _reasons())


def test_verify_signs_and_logs_a_checkpoint(db, caplog, capsys):
    # given a few events
    events = _record(3)
    # when audit_verify passes
    with caplog.at_level(logging.INFO, logger="mi_admin.audit.checkpoint"):
        call_command("audit_verify")
    # then a signed checkpoint of the trail is stored and logged with a stable prefix
    checkpoint = AuditCheckpoint.objects.get()
    assert (checkpoint.last_event_id, checkpoint.event_count) == (events[-1].id, 3)
    assert checkpoint.reason == AuditCheckpoint.Reason.VERIFY
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(LOG_PREFIX)]
    assert len(lines) == 1
    assert parse_log_line(lines[0]).signature == checkpoint.signature
    assert "Signed checkpoint" in capsys.readouterr().out


@pytest.mark.audit_tampering  # on purpose
def test_the_logged_checkpoint_detects_what_erased_both_tables(db, caplog):
    # given a checkpoint whose log line survives outside the database
    _record(4)
    with caplog.at_level(logging.INFO, logger="mi_admin.audit.checkpoint"):
        audit_checkpoint()  # the beat task
    line = next(r.getMessage() for r in caplog.records if LOG_PREFIX in r.getMessage())
    # when the owner truncates the events and the checkpoints
    _as_owner("TRUNCATE audit_auditevent, audit_auditcheckpoint")
    # then without the log nothing is left to compare (an empty trail verifies) ...
    call_command("audit_verify", "--no-checkpoint")
    # ... and with the logged line audit_verify fails
    with pytest.raises(CommandError, match=r"expected checkpoint: event .* is missing"):
        call_command("audit_verify", "--expect", f"2026-12-02 04:00:00 INFO x {line}")


def test_a_garbled_expect_line_is_a_clear_error(db):
    with pytest.raises(CommandError, match="not a checkpoint line"):
        call_command("audit_verify", "--expect", "hello")


def test_the_periodic_checkpoint_is_safe_to_run_twice(db):
    # given a trail; when the beat task runs twice (a redelivered message)
    _record(2)
    audit_checkpoint()
    audit_checkpoint()
    # then two equal witnesses, and the trail verifies against both
    assert AuditCheckpoint.objects.count() == 2
    report = audit_chain_verify()
    assert report.ok
    assert report.checkpoints == 2


def test_an_empty_trail_gets_no_checkpoint(db):
    assert audit_checkpoint() is None
    assert not AuditCheckpoint.objects.exists()


@pytest.mark.audit_tampering  # on purpose
def test_every_broken_link_is_reported_not_only_the_first(db, capsys):
    # given six events, the second and the fifth altered
    events = _record(6)
    for victim in (events[1], events[4]):
        _as_owner("UPDATE audit_auditevent SET object_repr = 'forged' WHERE id = %s", [victim.id])
    # when verified
    with pytest.raises(CommandError) as excinfo:
        call_command("audit_verify")
    # then both rows are named
    err = capsys.readouterr().err
    assert f"broken at event {events[1].id}" in err
    assert f"broken at event {events[4].id}" in err
    assert "2 break(s)" in str(excinfo.value)
    assert not AuditCheckpoint.objects.exists()  # a broken trail is never signed
