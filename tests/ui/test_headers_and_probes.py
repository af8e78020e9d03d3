"""Headers every response carries (CSP; no-store once signed in) and the probes a load
balancer and an orchestrator call (/healthz, /readyz)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from django.test import Client
from pytest_django import Settings

from idp.process import free_port
from mi_admin.headers import content_security_policy

ROOT = Path(__file__).resolve().parents[2]


def policy(response) -> dict[str, list[str]]:
    directives = [d.strip().split() for d in response["Content-Security-Policy"].split(";")]
    return {d[0]: d[1:] for d in directives if d}


def test_every_page_carries_a_self_only_policy(client_for: Callable[[str], Client]) -> None:
    # when
    pages = [client_for("anonymous").get("/login/"), client_for("devops").get("/instances/")]
    # then
    for response in pages:
        csp = policy(response)
        assert csp["default-src"] == ["'self'"]
        assert csp["script-src"] == ["'self'"]
        assert csp["style-src"] == ["'self'"]
        assert csp["object-src"] == ["'none'"]
        assert csp["frame-ancestors"] == ["'none'"]
        assert not any("unsafe" in value for values in csp.values() for value in values)


def test_forms_may_go_to_the_provider_only_besides_ourselves(settings: Settings) -> None:
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "https://example.okta.com/oauth2/v1/authorize"
    settings.OIDC_OP_LOGOUT_ENDPOINT = "https://example.okta.com/oauth2/v1/logout"
    assert content_security_policy().endswith("; form-action 'self' https://example.okta.com")


@pytest.mark.parametrize(
    "path",
    ["/", "/instances/", "/instances/export.csv", "/audit/export.csv", "/audit/?page=1"],
)
def test_signed_in_pages_and_exports_are_not_stored(
    client_for: Callable[[str], Client], path: str
) -> None:
    # when
    response = client_for("devops").get(path, headers={"HX-Request": "true"})
    # then
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_static_files_stay_cacheable_when_signed_in(client_for: Callable[[str], Client]) -> None:
    response = client_for("devops").get("/static/css/mi_admin.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_healthz_answers_a_plain_http_check_on_the_backend_address(
    settings: Settings,
    django_assert_num_queries,
    db: None,
) -> None:
    # given production's HTTPS redirect, and a balancer using the backend's IP as Host
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    # when
    with django_assert_num_queries(0):
        get = client.get("/healthz", HTTP_HOST="10.20.30.40:8000")
        head = client.head("/healthz", HTTP_HOST="10.20.30.40:8000")
    # then: no redirect, no Host refusal, no database
    assert get.status_code == 200
    assert get.json() == {"status": "ok"}
    assert head.status_code == 200
    assert head.content == b""
    # while every other page is still redirected to HTTPS
    assert client.get("/login/", HTTP_HOST="testserver").status_code == 301


def test_healthz_refuses_other_methods(client: Client) -> None:
    assert client.post("/healthz").status_code == 405


def test_readyz_checks_the_database_and_the_broker(client: Client, db: None) -> None:
    # when
    response = client.get("/readyz", HTTP_HOST="10.20.30.40")
    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert client.head("/readyz").status_code == 200


def test_readyz_answers_503_naming_a_broker_that_is_down(
    client: Client, db: None, settings: Settings
) -> None:
    # given: the broker's port has nobody listening
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.READYZ_TIMEOUT = 1
    # when
    response = client.get("/readyz")
    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["broker"].startswith("error")


def test_readyz_fails_when_a_broker_that_answered_stops(
    client: Client, db: None, settings: Settings, tmp_path: Path
) -> None:
    # given a redis-server of this test's own (the shared one is never stopped) as broker
    port = free_port()
    server = subprocess.Popen(
        [
            *(shutil.which("redis-server") or "redis-server", "--port", str(port)),
            *("--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
        settings.READYZ_TIMEOUT = 1
        probe = redis.Redis(port=port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if probe.ping():
                    break
            except redis.RedisError:
                time.sleep(0.05)
        probe.close()
        assert client.get("/readyz").status_code == 200
        # when it stops
        server.terminate()
        server.wait(timeout=10)
        response = client.get("/readyz")
    finally:
        if server.poll() is None:
            server.kill()
    # then readyz answers 503 naming the broker, and the body holds no URL or secret
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"].startswith("error")
    assert str(port) not in response.content.decode()
    assert "redis://" not in response.content.decode()


def test_readyz_answers_503_naming_a_database_that_is_down() -> None:
    # given: MI Admin (another process) whose database's port has nobody listening
    code = (
        "from django.test import Client; r = Client().get('/readyz'); "
        "print(r.status_code, r.content.decode())"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/mi_admin",
    }
    # when
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # then
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert status == "503"
    assert '"database": "error: OperationalError"' in body
    assert '"broker": "ok"' in body
