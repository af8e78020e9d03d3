"""The entrypoint the image runs, end to end: ``migrate`` builds a database of the test's own,
``web`` (gunicorn from gunicorn.conf.py), ``worker`` and ``beat`` serve it with a Redis of
the test's own; a person signs in through the local IdP over HTTP, asks for a sync of a
simulated instance and sees it finish; then every process stops on SIGTERM with exit 0.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from django.db import connections

from fleetsim.client import FleetSimClient
from fleetsim.process import free_port
from idp.process import IdpProcess
from tests.deploy.stack import LOGS, ROOT, EntrypointStack, RedisServer, wait_for
from tests.fixtures.idp import is_idp_login_page, submit_idp_login

SLUG = "deploy-acme"


def _server_url(database: str) -> str:
    """The test suite's PostgreSQL server, with another database name."""
    db = connections["default"].settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{database}"


@pytest.fixture
def own_database() -> Iterator[str]:
    """An empty PostgreSQL database of this test's own (dropped after it); its URL."""
    name = f"mi_admin_deploy_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_server_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _server_url(name)
    finally:
        with psycopg.connect(_server_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    LOGS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mi-deploy-"))
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _query(database_url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(sql.encode(), params).fetchall()


def _sign_in(session: requests.Session, web: str, idp: IdpProcess, username: str) -> None:
    response = session.get(f"{web}/oidc/authenticate/", timeout=30)
    assert is_idp_login_page(response, idp), response.url
    response = submit_idp_login(session, response, username)
    assert response.status_code == 200, response.text[:500]
    assert response.url.startswith(web), response.url
    assert "mi_admin_sessionid" in session.cookies


def _sync(session: requests.Session, web: str, slug: str) -> int:
    page = session.get(f"{web}/instances/{slug}/", timeout=30)
    assert page.status_code == 200, page.text[:500]
    key = re.search(r'name="idempotency_key" value="([0-9a-f-]+)"', page.text)
    assert key, "no Sync-now form on the instance page"
    response = session.post(
        f"{web}/instances/{slug}/sync/",
        data={
            "idempotency_key": key.group(1),
            "csrfmiddlewaretoken": session.cookies["mi_admin_csrftoken"],
        },
        headers={"Referer": f"{web}/instances/{slug}/"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, f"{response.status_code}: {response.text[:500]}"
    operation = re.search(r"/operations/(\d+)/", response.headers["location"])
    assert operation, response.headers["location"]
    return int(operation.group(1))


def test_entrypoint_migrate_web_worker_beat_sync_and_clean_stop(
    own_database: str,
    redis_server: RedisServer,
    fleetsim_server: FleetSimClient,
    idp_server: IdpProcess,
) -> None:
    fleetsim_server.reset()
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    stack = EntrypointStack(
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": own_database,
            "REDIS_URL": redis_server.url,
            "CELERY_QUEUE": f"deploy-{uuid.uuid4().hex[:8]}",
            **idp_server.rp_env(),
            "GCP_COMPUTE_ENDPOINT": fleetsim_server.compute_endpoint,
            "GCP_ANONYMOUS_CREDENTIALS": "1",
            "FLEETSIM_URL": fleetsim_server.base_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            # Small, for a shared machine: one gunicorn worker, two Celery processes.
            "WEB_CONCURRENCY": "1",
            "CELERY_CONCURRENCY": "2",
            "HEALTH_SWEEP_SECONDS": "5",
        }
    )
    try:
        # given a database built by the entrypoint's migrate, with one simulated instance
        stack.run("migrate")
        assert _query(own_database, "SELECT count(*) FROM django_migrations")[0][0] > 50
        fleetsim_server.upsert_instances(
            [
                {
                    "slug": SLUG,
                    "project": f"sourcegraph-managed-{SLUG}",
                    "zone": "us-central1-a",
                    "name": "default-red-instance",
                    "status": "RUNNING",
                    "version": "6.9.1",
                }
            ]
        )
        seed = (
            "from tests.instances.factories import make_simulated_instance; "
            f"make_simulated_instance({SLUG!r}, url={fleetsim_server.instance_url(SLUG)!r}, "
            "gcp_zone='us-central1-a')"
        )
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", seed],
            cwd=ROOT,
            env=stack.env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        # and web, worker and beat started as the image starts them
        stack.spawn("web", "web")
        stack.spawn("worker", "worker")
        stack.spawn("beat", "beat")
        stack.wait_web(web)
        # the image's HEALTHCHECK answers healthy while the web is ready
        stack.run("healthcheck")

        # when devops signs in through the IdP and asks for a sync
        session = requests.Session()
        _sign_in(session, web, idp_server, "devops")
        operation_id = _sync(session, web, SLUG)

        # then the worker runs it to the end
        def finished() -> tuple[Any, ...] | None:
            stack.alive("worker")
            rows = _query(
                own_database,
                "SELECT state, error FROM instances_operation "
                "WHERE id = %s AND finished_at IS NOT NULL",
                operation_id,
            )
            return rows[0] if rows else None

        state, error = wait_for(f"operation {operation_id} to finish", finished, seconds=60)
        assert (state, error) == ("succeeded", "")
        page = session.get(f"{web}/operations/{operation_id}/", timeout=30)
        assert page.status_code == 200
        assert "Succeeded" in page.text or "succeeded" in page.text
        # and beat drives the periodic work: the health sweep probed the instance
        wait_for(
            "beat's health sweep to probe the instance",
            lambda: _query(
                own_database,
                "SELECT count(*) FROM health_healthsample s JOIN instances_instance i "
                "ON i.id = s.instance_id WHERE i.slug = %s AND s.ok",
                SLUG,
            )[0][0],
            seconds=60,
        )

        # when each process gets SIGTERM, as Docker stops a container
        codes = {name: stack.stop(name) for name in ("beat", "worker", "web")}
    finally:
        stack.kill_all()

    # then each stopped on its own with exit 0, and no log has a traceback
    assert codes == {"beat": 0, "worker": 0, "web": 0}
    stack.run("healthcheck", expect=1)
    for name in ("web", "worker", "beat"):
        assert "Traceback" not in stack.log(name), f"{name}: {stack.log(name)[-3000:]}"
