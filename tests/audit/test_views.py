"""Browsing, filtering and exporting the audit trail."""

from __future__ import annotations

import csv
import io
import json

from django.urls import reverse

from mi_admin.audit.models import AuditEvent
from mi_admin.audit.services import audit_record


def _content(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def _seed() -> None:
    audit_record(
        action="instance.sync",
        object_type="instances.instance",
        object_id="1",
        object_repr="acme-prod",
        actor_label="devops",
    )
    audit_record(action="auth.login", actor_label="manager")
    audit_record(
        action="instance.upgrade",
        object_type="instances.instance",
        object_id="2",
        object_repr="=cmd|' /C calc'!A0",
        actor_label="devops",
    )


def test_list_filters_by_action_prefix(client_for):
    # given events of several kinds
    client = client_for("devops")
    _seed()
    # when devops filters on "instance."
    response = client.get(reverse("audit:event_list"), {"action": "instance."})
    # then only instance events are listed, in a full page
    body = response.content.decode()
    assert response.status_code == 200
    assert "acme-prod" in body
    assert "auth.login</code>" not in body
    assert "<html" in body


def test_htmx_request_gets_the_table_alone(client_for):
    # given devops; when htmx asks for the list
    _seed()
    response = client_for("devops").get(
        reverse("audit:event_list"), {"actor": "manager"}, HTTP_HX_REQUEST="true"
    )
    # then the answer is the results partial, not the page
    body = response.content.decode()
    assert "<html" not in body
    assert "auth.login" in body
    assert "1 event" in body


def test_csv_export_is_filtered_and_formula_safe(client_for):
    # given events, one whose name starts like a spreadsheet formula
    _seed()
    client = client_for("admin")
    # when exported as CSV filtered on instances
    response = client.get(reverse("audit:event_export", args=["csv"]), {"action": "instance."})
    rows = list(csv.DictReader(io.StringIO(_content(response))))
    # then both instance events are there, and the formula is neutralised
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    assert sorted(r["action"] for r in rows) == ["instance.sync", "instance.upgrade"]
    assert {r["object_repr"] for r in rows} >= {"'=cmd|' /C calc'!A0"}
    assert all(len(r["hash"]) == 64 for r in rows)


def test_json_export_carries_the_chain(client_for):
    # given events; when exported as JSON
    _seed()
    response = client_for("devops").get(
        reverse("audit:event_export", args=["json"]), {"action": "instance."}
    )
    data = json.loads(_content(response))
    # then the matching events are there with their hashes, newest first
    assert [e["action"] for e in data] == ["instance.upgrade", "instance.sync"]
    previous = AuditEvent.objects.filter(id__lt=data[0]["id"]).order_by("-id").first()
    assert previous is not None
    assert data[0]["prev_hash"] == previous.hash


def test_bad_filter_gets_a_clear_error(client_for):
    # given a malformed date; when exporting; then 400 names the field
    response = client_for("devops").get(
        reverse("audit:event_export", args=["json"]), {"since": "yesterday-ish"}
    )
    assert response.status_code == 400
    assert "since" in response.content.decode()
