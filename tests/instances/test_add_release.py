"""``manage.py add_release``: records an audited release or says clearly why not."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from instances.models import Release
from mi_admin.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def add_release(*args: str) -> str:
    out = StringIO()
    call_command("add_release", *args, stdout=out)
    return out.getvalue()


def test_records_an_audited_release():
    # when a release is added with its time
    output = add_release("6.1.0", "--kind", "patch", "--released-at", "2026-03-02T12:00:00Z")
    # then it is recorded, said, and audited
    release = Release.objects.get(version="6.1.0")
    assert (release.kind, release.released_at) == ("patch", datetime(2026, 3, 2, 12, tzinfo=UTC))
    assert "Recorded patch release 6.1.0, released 2026-03-02 12:00 UTC." in output
    event = AuditEvent.objects.get(action="release.created")
    assert event.actor_label == "manage.py add_release"
    assert (event.after or {}).get("version") == "6.1.0"


def test_date_without_offset_is_utc():
    # when the release time has no offset; then it is taken as UTC
    add_release("6.1.0", "--kind", "monthly", "--released-at", "2026-03-02")
    assert Release.objects.get().released_at == datetime(2026, 3, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["6.1", "--kind", "monthly"], "'6.1' is not a version: use MAJOR.MINOR.PATCH"),
        (["v6.1.0-rc1", "--kind", "monthly"], "is not a version"),
        (["6.1.0", "--kind", "monthly", "--released-at", "yesterday"], "is not an ISO 8601"),
        (["6.1.0", "--kind", "monthly", "--released-at", "2999-01-01"], "in the future"),
    ],
)
def test_refuses_bad_input(args, message):
    # when the command is given bad input; then it fails with a clear message, recording nothing
    with pytest.raises(CommandError, match=message):
        add_release(*args)
    assert not Release.objects.exists()


def test_refuses_a_duplicate():
    # given 6.1.0 is recorded
    add_release("6.1.0", "--kind", "monthly")
    # when it is added again; then the error says so
    with pytest.raises(CommandError, match=r"Release 6\.1\.0 is already recorded\."):
        add_release("6.1.0", "--kind", "patch")
    assert Release.objects.count() == 1


def test_refuses_an_unknown_kind():
    # when the kind is not one of the three; then argparse names the choices
    with pytest.raises(CommandError, match="invalid choice: 'weekly'"):
        add_release("6.1.0", "--kind", "weekly")
