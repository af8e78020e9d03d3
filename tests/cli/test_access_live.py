"""``mi access`` and ``mi audit export`` against a live server: the access endpoints
(``/api/v1/access/grants/...``) and the audit export (``/api/v1/audit/events/export/``)."""

from __future__ import annotations

import csv
import importlib
import io
import json
import time

import pytest
from django.apps import apps
from django.db import connection

from mi_cli.errors import ExitCode
from tests.instances.factories import make_simulated_instance

pytestmark = pytest.mark.django_db(transaction=True)

SSH = "SSH (OS Login)"


@pytest.fixture
def access_api(live_api: str, fleetsim) -> str:
    for module in (
        "mi_admin.approvals.migrations.0002_default_manager_policy",
        "access.migrations.0002_seed_levels",
        "access.migrations.0005_seed_site_admin_level",
    ):
        importlib.import_module(module).create(apps, connection.schema_editor())
    instance = make_simulated_instance("acme-prod")
    fleetsim.upsert_instances(
        [
            {
                "slug": instance.slug,
                "project": instance.gcp_project,
                "zone": instance.gcp_zone,
                "name": instance.vm_name,
            }
        ]
    )
    return live_api


def _state(mi, grant_id: int) -> str:
    result = mi("access", "show", str(grant_id), "--json")
    assert result.code == 0, result.err
    return str(json.loads(result.out)["state"])


def test_access_request_approve_active_end(celery_worker, access_api, login_as, mi):
    # given devops asks for an hour of SSH on acme-prod
    login_as("devops")
    result = mi(
        "access",
        "request",
        "acme-prod",
        "--level",
        SSH,
        "--for",
        "1h",
        "--why",
        "disk full",
        "--json",
    )
    assert result.code == 0, result.err
    grant = json.loads(result.out)
    assert (grant["instance"], grant["state"]) == ("acme-prod", "pending")
    assert grant["duration_minutes"] == 60
    assert grant["justification"] == "disk full"
    # when a manager approves it from the command line
    login_as("manager")
    approved = mi("access", "approve", str(grant["id"]), "--comment", "ok", "--json")
    assert approved.code == 0, approved.err
    # then it becomes active (the worker applies it)
    deadline = time.monotonic() + 30
    while _state(mi, grant["id"]) != "active":
        assert time.monotonic() < deadline, "the approved grant never became active"
        time.sleep(0.3)
    # and its holder sees it among theirs, and can end it
    login_as("devops")
    mine = json.loads(mi("access", "list", "--mine", "--json").out)
    assert grant["id"] in [g["id"] for g in mine]
    ended = mi("access", "end", str(grant["id"]), "--json")
    assert ended.code == 0, ended.err
    assert json.loads(ended.out)["state"] == "ended_early"


def test_access_deny_and_refusals(access_api, login_as, mi):
    login_as("devops")
    grant = json.loads(
        mi(
            "access", "request", "acme-prod", "--level", SSH, "--for", "30m", "--why", "x", "--json"
        ).out
    )
    # the requester may not approve their own grant
    assert mi("access", "approve", str(grant["id"])).code in (ExitCode.FORBIDDEN, ExitCode.FAILED)
    login_as("manager")
    denied = mi("access", "deny", str(grant["id"]), "--comment", "not now", "--json")
    assert denied.code == 0, denied.err
    assert json.loads(denied.out)["state"] == "denied"
    assert mi("access", "show", "999999").code == ExitCode.NOT_FOUND


def test_audit_export_writes_csv(live_api, login_as, mi, tmp_path):
    login_as("admin")
    target = tmp_path / "audit.csv"
    result = mi("audit", "export", "--since", "2026-01-01", "-o", str(target))
    assert result.code == 0, result.err
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows, "an empty export"
    assert any("auth.user_created" in ",".join(row) for row in rows[1:])
    # to stdout without -o
    # (byte for byte: the CSV keeps its \r\n line ends, which read_text() would translate)
    assert mi("audit", "export", "--since", "2026-01-01").out == target.read_bytes().decode()
