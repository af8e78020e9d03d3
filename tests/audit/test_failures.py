"""Unauthenticated failures cannot flood the trail (issue 8.10): repeats from one source in
a minute fold into one summary event with a count; the text kept is capped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import authenticate
from django.test import Client
from django.utils import timezone

from mi_admin.audit.context import request_context
from mi_admin.audit.models import AuditEvent, FailureWindow
from mi_admin.audit.services import FAILURE_TEXT_LIMIT, audit_failures_fold
from mi_admin.audit.tasks import audit_failures_fold_task


def _json(value: Any) -> dict[str, Any]:
    """A stored before/after value, which these tests expect to be an object."""
    assert isinstance(value, dict)
    return value


def _fail_logins(n: int, ip: str, username: str = "mallory") -> None:
    with request_context(ip=ip):
        for _ in range(n):
            authenticate(username=username, password="wrong-password-123")


def test_repeated_failures_from_one_source_fold_into_one_summary(db):
    # given fifty failed logins from one address within a minute
    _fail_logins(50, "203.0.113.7")
    # then the trail has the first one only, and the rest are counted
    assert AuditEvent.objects.filter(action__startswith="auth.login_failed").count() == 1
    assert FailureWindow.objects.get().count == 50
    # when the minute is over and the fold runs (beat)
    written = audit_failures_fold(now=timezone.now() + timedelta(seconds=61))
    # then one summary event carries the count, and the counter is gone
    assert written == 1
    summary = AuditEvent.objects.get(action="auth.login_failed.repeated")
    assert _json(summary.after)["repeated"] == 49
    assert _json(summary.after)["source"] == "203.0.113.7"
    assert summary.actor_label == "mallory"
    assert not FailureWindow.objects.exists()


def test_folding_twice_writes_nothing_more(db):
    _fail_logins(3, "203.0.113.7")
    later = timezone.now() + timedelta(seconds=61)
    assert audit_failures_fold(now=later) == 1
    assert audit_failures_fold(now=later) == 0
    assert audit_failures_fold_task() == 0  # the beat task, run again
    assert AuditEvent.objects.filter(action="auth.login_failed.repeated").count() == 1


def test_a_window_still_open_is_not_folded(db):
    _fail_logins(3, "203.0.113.7")
    assert audit_failures_fold() == 0
    assert FailureWindow.objects.get().count == 3


def test_each_source_gets_its_own_event(db):
    _fail_logins(5, "203.0.113.7")
    _fail_logins(5, "2001:db8::1")
    _fail_logins(5, "not an address")  # an unknown source is one source too
    firsts = AuditEvent.objects.filter(action="auth.login_failed")
    assert sorted(str(e.ip) for e in firsts) == ["2001:db8::1", "203.0.113.7", "None"]


def test_a_single_failure_writes_no_summary(db):
    _fail_logins(1, "203.0.113.7")
    assert audit_failures_fold(now=timezone.now() + timedelta(seconds=61)) == 0
    assert AuditEvent.objects.count() == 1


def test_a_failure_after_the_window_summarises_it_and_opens_a_new_one(db):
    # given a window a minute old with repeats
    _fail_logins(4, "203.0.113.7")
    FailureWindow.objects.update(started_at=timezone.now() - timedelta(seconds=90))
    # when the same source fails again
    _fail_logins(1, "203.0.113.7")
    # then the old window is summarised and the new failure is an event of its own
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["auth.login_failed", "auth.login_failed.repeated", "auth.login_failed"]
    assert FailureWindow.objects.get().count == 1


def test_attacker_text_is_capped(db):
    # given an Okta error callback with 3,000 characters of description
    Client().get(
        "/oidc/callback/", {"error": "access_denied", "error_description": "x" * 3000, "state": "s"}
    )
    # then what is kept is capped
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert len(_json(event.after)["reason"]) == FAILURE_TEXT_LIMIT


def test_a_long_username_is_capped(db):
    _fail_logins(1, "203.0.113.7", username="u" * 3000)
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert len(event.actor_label) == FAILURE_TEXT_LIMIT
    assert len(_json(event.after)["username"]) == FAILURE_TEXT_LIMIT
