"""The least-privilege deployment (README): the application's database role does not own
the audit tables, so it can append to them but not rewrite, delete, truncate or unguard
them. Two real PostgreSQL roles and a scratch database, dropped afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
GRANTS = ROOT / "mi_admin" / "audit" / "sql" / "app_role_grants.sql"


@dataclass(frozen=True)
class Deployment:
    database: str
    owner: str
    app: str

    def url(self, role: str) -> str:
        return f"postgres://{role}@127.0.0.1:5432/{self.database}"


def _superuser() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True
    )


def _manage(*args: str, role_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": role_url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    suffix = uuid.uuid4().hex[:10]
    dep = Deployment(
        f"mi_audit_roles_{suffix}", f"mi_audit_owner_{suffix}", f"mi_audit_app_{suffix}"
    )
    with _superuser() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(dep.owner)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(dep.app)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(dep.database), sql.Identifier(dep.owner)
            )
        )
    try:
        # The owner migrates, then grants as the README says.
        migrated = _manage("migrate", "audit", "-v0", role_url=dep.url(dep.owner))
        assert migrated.returncode == 0, migrated.stderr
        granted = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"app_role={dep.app}",
             "-f", str(GRANTS), dep.url(dep.owner)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert granted.returncode == 0, granted.stderr
        yield dep
    finally:
        with _superuser() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(dep.database)
                )
            )
            for role in (dep.app, dep.owner):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_the_app_role_appends_and_verifies(deployment):
    # given the application's role; when it writes an event and runs audit_verify
    wrote = _manage(
        "shell", "-c",
        "from mi_admin.audit.services import audit_record; audit_record(action='test.app_role')",
        role_url=deployment.url(deployment.app),
    )  # fmt: skip
    assert wrote.returncode == 0, wrote.stderr
    verified = _manage("audit_verify", role_url=deployment.url(deployment.app))
    # then both work: appending and signing checkpoints need no more than INSERT and SELECT
    assert verified.returncode == 0, verified.stderr
    assert "Audit chain intact: 1 events" in verified.stdout
    assert "Signed checkpoint" in verified.stdout


@pytest.mark.parametrize("table", ["audit_auditevent", "audit_auditcheckpoint"])
@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("UPDATE {table} SET id = id", "permission denied"),
        ("DELETE FROM {table}", "permission denied"),
        ("TRUNCATE {table}", "permission denied"),
        ("ALTER TABLE {table} DISABLE TRIGGER USER", "must be owner"),
        ("DROP TABLE {table}", "must be owner"),
    ],
    ids=["update", "delete", "truncate", "disable-trigger", "drop"],
)
def test_the_app_role_cannot_rewrite_history(deployment, table, statement, refusal):
    # given the application's role, even with the test suite's TRUNCATE escape hatch set
    with psycopg.connect(deployment.url(deployment.app), autocommit=True) as conn:
        conn.execute("SET mi_audit.allow_truncate = 'on'")
        # when it tries to change the past; then PostgreSQL refuses
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refusal):
            conn.execute(sql.SQL(statement).format(table=sql.Identifier(table)))


def test_the_owner_is_still_stopped_by_the_triggers(deployment):
    # given the owner (who migrates); when it deletes without disabling the triggers
    with psycopg.connect(deployment.url(deployment.owner), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM audit_auditevent")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("TRUNCATE audit_auditcheckpoint")
