"""The teardown flush is retried on a deadlock however Django wraps it (tests/fixtures/flush.py)."""

from django.core.management.base import CommandError
from django.db import OperationalError

from tests.fixtures.flush import _deadlocked


def _wrapped(message: str) -> CommandError:
    try:
        try:
            raise OperationalError(message)
        except OperationalError as exc:
            raise CommandError("Database test couldn't be flushed.") from exc
    except CommandError as wrapped:
        return wrapped


def test_a_deadlock_inside_the_flush_command_s_error_is_found():
    assert _deadlocked(_wrapped("deadlock detected\nDETAIL: Process 1 waits"))


def test_any_other_flush_failure_is_not_retried():
    assert not _deadlocked(_wrapped('relation "x" does not exist'))
    assert not _deadlocked(ValueError("boom"))
