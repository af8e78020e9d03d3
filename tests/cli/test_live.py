"""``mi`` against MI Admin on a live server, with real tokens from the local IdP: the login
through the IdP's sign-in page and the CLI's loopback listener, refreshing, the fleet list,
errors as exit codes, and an upgrade on the fleet simulator run by a real Celery worker."""

from __future__ import annotations

import json
import stat
import time

import jwt
import pytest
from django.conf import settings

from instances.choices import LifecycleState, OperationState
from instances.models import Customer, Instance, Operation, Release
from instances.runners.upgrade import PRECHECK, RECORD, SNAPSHOT
from mi_admin.audit.models import AuditEvent
from mi_cli import config
from mi_cli.errors import ExitCode
from tests.cli.conftest import persona_browser
from tests.instances.factories import make_instance, make_release, make_version_fleet

pytestmark = pytest.mark.django_db(transaction=True)


def _cached() -> config.Credentials:
    credentials = config.load()
    assert credentials is not None, "no cached login"
    return credentials


def test_login_signs_in_at_the_idp_and_caches_a_private_refreshable_token(
    live_api, oidc_settings, mi, config_home
):
    # when devops runs `mi login` and signs in in the "browser"
    result = mi("login", browser=persona_browser("devops", oidc_settings))
    # then the login is cached, for this server and issuer, readable by its owner only
    assert result.code == 0, result.err
    assert "Logged in to" in result.out
    assert "as devops@example.com" in result.out
    path = config_home / "mi" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cached = json.loads(path.read_text())
    assert cached["server"] == live_api
    assert cached["issuer"] == settings.API_TOKEN_ISSUER
    assert cached["refresh_token"]
    claims = jwt.decode(cached["access_token"], options={"verify_signature": False})
    assert claims["cid"] == "mi-cli"
    assert {"mi.read", "mi.write"} <= set(claims["scp"])
    # and `mi logout` forgets it
    assert mi("logout").code == 0
    assert not path.exists()
    assert mi("instances").code == ExitCode.NOT_AUTHENTICATED


def test_no_browser_prints_the_url_to_open(live_api, oidc_settings, mi):
    # when the URL is opened by someone else (here: the persona's browser, from the printout)
    opened: list[str] = []

    def sign_in_from_printout(url: str) -> None:
        opened.append(url)
        persona_browser("devops", oidc_settings)(url)

    result = mi("login", browser=sign_in_from_printout)
    assert result.code == 0, result.err
    (url,) = opened
    assert url.startswith(f"{settings.API_TOKEN_ISSUER}/v1/authorize?")
    assert "code_challenge_method=S256" in url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url


def test_instances_behind_as_json(login_as, mi):
    # given releases 5.8.0 and 5.9.0 and a fleet with two instances on 5.8.0
    make_release("5.8.0")
    make_release("5.9.0")
    make_version_fleet()
    login_as("ce")
    # when a script asks which instances are behind
    result = mi("instances", "--behind", "--json")
    # then it gets exactly those, as JSON
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert sorted(r["slug"] for r in rows) == ["b-prod", "c-prod"]
    assert {r["version_position"]["state"] for r in rows} == {"behind"}
    # and a person gets a table; filters combine
    table = mi("instances", "--behind", "--state", "active")
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].split()[:4] == ["SLUG", "CUSTOMER", "STATE", "VERSION"]
    assert [line.split()[0] for line in lines[1:]] == ["b-prod"]
    assert "behind 1 (latest 5.9.0)" in lines[1]


def test_every_page_is_followed(login_as, mi):
    # given more instances than one API page holds
    make_release("5.9.0")
    customer = Customer.objects.create(slug="big", name="Big")
    Instance.objects.bulk_create(
        Instance(customer=customer, slug=f"big-{i:03}", url=f"https://big-{i}.example")
        for i in range(205)
    )
    login_as("ce")
    rows = json.loads(mi("instances", "--customer", "big", "--json").out)
    assert len(rows) == 205
    assert len({r["slug"] for r in rows}) == 205


def test_an_expired_token_is_refreshed_and_a_refused_refresh_asks_for_login(
    login_as, mi, config_home
):
    make_instance("acme-prod")
    login_as("devops")
    before = _cached()
    # given the cached access token has expired
    before.expires_at = time.time() - 5
    before.access_token = "expired"
    config.save(before)
    # when a command runs; then it refreshes with the refresh token first, and saves it
    result = mi("show", "acme-prod", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["slug"] == "acme-prod"
    after = _cached()
    assert after.access_token not in ("expired", "")
    assert after.expires_at > time.time() + 600
    assert stat.S_IMODE(config.credentials_path().stat().st_mode) == 0o600
    # given a token the server refuses (e.g. revoked) while not yet expired by the clock
    after.access_token = "not-a-jwt"
    config.save(after)
    # then the 401 makes it refresh once and retry
    assert mi("show", "acme-prod").code == 0
    # given the refresh token is no longer good either
    stale = _cached()
    stale.expires_at, stale.refresh_token = time.time() - 5, "revoked"
    config.save(stale)
    # then it says to log in again, with exit 3 and no traceback
    result = mi("show", "acme-prod")
    assert result.code == ExitCode.NOT_AUTHENTICATED
    assert result.err == "mi: Your login has expired: run `mi login`.\n"


def test_refusals_are_exit_codes_with_the_servers_sentence(login_as, mi):
    make_release("5.9.0")
    make_instance("acme-prod", observed_version="5.9.0", architecture="v1.0")
    login_as("ce")
    # a role without the permission: 4, the problem's title and detail
    result = mi("sync", "acme-prod")
    assert result.code == ExitCode.FORBIDDEN
    assert result.err.startswith("mi: Forbidden: ")
    assert "Traceback" not in result.err
    # an unknown instance: 5
    result = mi("show", "nope-prod")
    assert result.code == ExitCode.NOT_FOUND
    assert result.err == "mi: Not Found: No instance nope-prod.\n"
    # a refused upgrade (no such release): 1, with the service's reason
    login_as("devops")
    result = mi("upgrade", "acme-prod", "--to", "9.9.9")
    assert result.code == ExitCode.FAILED
    assert result.err.startswith("mi: Bad Request: ")
    assert "9.9.9" in result.err
    assert not Operation.objects.exists()


def test_a_machine_token_in_mi_token_works_without_login(live_api, mi, monkeypatch):
    from tests.api.test_idp_tokens import client_credentials_token

    make_instance("acme-prod")
    monkeypatch.setenv("MI_TOKEN", client_credentials_token())
    result = mi("instances", "--json")
    assert result.code == 0, result.err
    assert [r["slug"] for r in json.loads(result.out)] == ["acme-prod"]


FROM, TO = "6.9.1", "6.10.0"


def _simulated(fleetsim, **spec):
    for i, version in enumerate(["6.8.0", FROM, TO]):
        Release.objects.get_or_create(
            version=version, defaults={"released_at": f"2026-0{i + 1}-05T12:00:00Z"}
        )
    customer, _ = Customer.objects.get_or_create(slug="acme", defaults={"name": "Acme"})
    instance = Instance.objects.create(
        customer=customer,
        slug="acme-prod",
        url=fleetsim.instance_url("acme-prod"),
        kind="production",
        architecture="v1.0",
        state=LifecycleState.ACTIVE,
        gcp_project="sourcegraph-managed-acme-prod",
        vm_name="default-red-instance",
        data_disk="default-red-data-disk",
        observed_version=FROM,
        vm_version=FROM,
    )
    vm = {
        "slug": "acme-prod",
        "project": instance.gcp_project,
        "name": instance.vm_name,
        "version": FROM,
        "reconcile_delay": 0.3,
        **spec,
    }
    fleetsim.upsert_instances([vm])
    return instance


@pytest.fixture
def quick_upgrades(settings):
    settings.UPGRADE_STABILITY_SECONDS = 1.0
    settings.UPGRADE_PROGRESS_DEADLINE_SECONDS = 3.0
    settings.UPGRADE_POLL_SECONDS = 0.2


def test_upgrade_wait_streams_the_steps_until_it_succeeds(
    celery_worker, fleetsim, quick_upgrades, login_as, mi
):
    # given an active instance on 6.9.1 in the simulator, and devops logged in
    instance = _simulated(fleetsim)
    login_as("devops")
    # when they upgrade it and wait
    result = mi("upgrade", "acme-prod", "--to", TO, "--wait")
    # then it exits 0 after printing every step as it finished, in order
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    operation = Operation.objects.get()
    assert lines[0] == f"Operation #{operation.pk} (upgrade) on acme-prod: pending"
    # ("  done     <step>  (<detail>)")
    done = [line[11:].split("  (")[0] for line in lines if line.startswith("  done ")]
    assert any(line.startswith("  running  Snapshot the data disk") for line in lines)
    assert done == [
        PRECHECK,
        SNAPSHOT,
        f"Set sourcegraph-version to {TO}",
        f"Wait for /__version to report {TO}",
        "Stay healthy for 1 s",
        RECORD,
    ]
    assert lines[-1] == f"Operation #{operation.pk} succeeded.", result.out
    assert operation.state == OperationState.SUCCEEDED
    instance.refresh_from_db()
    assert instance.observed_version == TO
    # and the audit trail names the CLI's token
    event = AuditEvent.objects.get(action="operation.upgrade.requested")
    assert "cid=mi-cli" in event.actor_label


def test_a_failed_upgrade_exits_1_with_its_reason(
    celery_worker, fleetsim, quick_upgrades, login_as, mi
):
    # given an instance on which the target never gets healthy
    _simulated(fleetsim, health_mode="bad_release")
    login_as("devops")
    # when it is upgraded with --wait --json
    result = mi("upgrade", "acme-prod", "--to", TO, "--wait", "--json")
    # then it exits 1 with the operation's error, the steps went to stderr, JSON to stdout
    assert result.code == ExitCode.FAILED
    assert f"failed: Upgrade to {TO} failed and {FROM} was set back" in result.err
    assert "  failed " in result.err
    assert json.loads(result.out)["state"] == "failed"
