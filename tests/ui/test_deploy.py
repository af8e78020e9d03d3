"""Production start-up: settings refuse to start half-configured; check --deploy is clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "SECRET_KEY": "x7!k2Lq9#vR4mZ8wB1nE6tY3uI0oP5aS-d_fGhJkL;zXcVbNm,Q",
    "ALLOWED_HOSTS": "mi-admin.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/mi_admin",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "OIDC_ISSUER": "https://example.okta.com",
    "OIDC_RP_CLIENT_ID": "0oa-mi-admin",
    "OIDC_RP_CLIENT_SECRET": "okta-client-secret",
    "SECURE_PROXY_SSL_HEADER": "1",
    "AUDIT_CHECKPOINT_KEY": "9f2c1e7a-audit-checkpoint-key-outside-the-database",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Only what a production host would have: none of the test run's own variables.
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "mi_admin.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_under_production_settings():
    # given the production environment; when Django's deployment checks run
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    # then there is not a single warning
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "OIDC_ISSUER", "OIDC_RP_CLIENT_SECRET", "AUDIT_CHECKPOINT_KEY"]
)
def test_missing_production_setting_stops_start_up_naming_it(missing):
    # given production settings with one required value missing
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    # when Django starts
    result = _manage("check", env=env)
    # then it refuses, and the message names the variable
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_requests_is_the_http_library_from_the_project_root():
    # given the project root on sys.path; when `import requests` runs there
    result = subprocess.run(
        [sys.executable, "-c", "import requests; print(requests.__file__)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    # then it is the HTTP library, not an app of ours
    assert "site-packages" in result.stdout
    assert not Path("mi_requests/__init__.py").samefile(result.stdout.strip())


def test_break_glass_in_production_needs_an_encryption_key():
    # given production with break-glass on and no MFA_ENCRYPTION_KEY
    env = {**PRODUCTION_ENV, "BREAK_GLASS_ENABLED": "1"}
    # when Django starts
    result = _manage("check", env=env)
    # then it refuses, naming the variable; with a key it starts
    assert result.returncode != 0
    assert "MFA_ENCRYPTION_KEY must be set" in result.stderr
    key = "n3-aO1mUQxUBl8r4ECu6mv2O0_AdgS9bu0B1gzzIs4E="
    assert _manage("check", env={**env, "MFA_ENCRYPTION_KEY": key}).returncode == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [("TRUSTED_PROXY_NETWORKS", "10.0.0.0/8,not-a-net"), ("TRUSTED_PROXY_COUNT", "-1")],
)
def test_a_bad_proxy_setting_stops_start_up_naming_it(name, value):
    result = _manage("check", env={**PRODUCTION_ENV, name: value})
    assert result.returncode != 0
    assert name in result.stderr
