"""Break-glass during an outage: secrets unreadable at rest and in admin, and a stranger
cannot lock the operator out by failing logins from his own address."""

from __future__ import annotations

import importlib
import uuid

import pytest
from allauth.mfa.models import Authenticator
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from pytest_django import Settings

from mi_admin.accounts.mfa_crypto import (
    SecretDecryptionError,
    decrypt_secret,
    generate_key,
    is_encrypted,
)
from mi_admin.accounts.models import User
from tests.fixtures.breakglass import BreakGlassAccount, create_break_glass_account, totp

encrypt_migration = importlib.import_module(
    "mi_admin.accounts.migrations.0002_encrypt_totp_secrets"
)
LIMITS = {"login_failed": "10/m/ip,5/5m/key", "login_failed_account": "8/1h/key"}
TOO_MANY = "Too many failed login attempts"


def unique(prefix: str) -> str:
    # The rate limits live in the Redis cache shared with other test runs: fresh names.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def address() -> str:
    return f"198.51.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def stored_totp(user: User) -> str:
    return str(Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP).data["secret"])


def sign_in(client: Client, account: BreakGlassAccount, ip: str, password: str | None = None):
    first = client.post(
        "/break-glass/login/",
        {"login": account.user.username, "password": password or account.password},
        REMOTE_ADDR=ip,
    )
    if first.status_code != 302:
        return first
    return client.post(
        "/break-glass/2fa/authenticate/", {"code": totp(account.secret)}, REMOTE_ADDR=ip
    )


def test_the_totp_secret_is_encrypted_in_the_database(db: None) -> None:
    # when
    account = create_break_glass_account(unique("bg-enc"))
    # then: neither the model nor the raw row holds the secret
    stored = stored_totp(account.user)
    assert is_encrypted(stored)
    assert account.secret not in stored
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT data::text FROM mfa_authenticator WHERE user_id = %s", [account.user.pk]
        )
        (raw,) = cursor.fetchone()
    assert account.secret not in raw
    assert decrypt_secret(stored) == account.secret


def test_an_encrypted_secret_still_signs_in(client: Client, db: None, break_glass_on: None) -> None:
    account = create_break_glass_account(unique("bg-signin"))
    response = sign_in(client, account, address())
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(account.user.pk)


def test_django_admin_never_shows_the_secret(
    client_for,
    db: None,
) -> None:
    # given
    account = create_break_glass_account(unique("bg-admin-view"))
    authenticator = Authenticator.objects.get(user=account.user)
    admin = client_for("admin")
    # when
    listing = admin.get("/admin/mfa/authenticator/")
    detail = admin.get(f"/admin/mfa/authenticator/{authenticator.pk}/change/")
    # then: listed and viewable, without the secret in either form
    assert listing.status_code == 200
    assert account.user.username in listing.content.decode()
    assert detail.status_code == 200
    for page in (listing, detail):
        body = page.content.decode()
        assert account.secret not in body
        assert stored_totp(account.user) not in body
        assert "secret" not in body.lower()
    # and it cannot be edited there
    assert admin.post(f"/admin/mfa/authenticator/{authenticator.pk}/change/", {}).status_code == 403


def test_the_migration_encrypts_secrets_stored_in_clear(
    client: Client, db: None, break_glass_on: None
) -> None:
    # given: an account from before encryption (its secret in clear)
    account = create_break_glass_account(unique("bg-legacy"))
    Authenticator.objects.filter(user=account.user).update(data={"secret": account.secret})
    # when
    encrypt_migration.encrypt_secrets(apps, None)
    # then
    assert is_encrypted(stored_totp(account.user))
    assert decrypt_secret(stored_totp(account.user)) == account.secret
    assert sign_in(client, account, address()).status_code == 302
    assert client.session.get("_auth_user_id") == str(account.user.pk)


def test_a_key_that_does_not_open_the_secret_is_an_error_not_a_guess(
    db: None, settings: Settings
) -> None:
    # given a secret written under one key
    account = create_break_glass_account(unique("bg-rotate"))
    stored = stored_totp(account.user)
    # when the key is replaced without keeping the old one
    settings.MFA_ENCRYPTION_KEY = generate_key()
    # then
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(stored)


def test_rotation_keeps_old_secrets_readable(db: None, settings: Settings) -> None:
    old = generate_key()
    settings.MFA_ENCRYPTION_KEY = old
    account = create_break_glass_account(unique("bg-rotate2"))
    settings.MFA_ENCRYPTION_KEY = f"{generate_key()},{old}"
    assert decrypt_secret(stored_totp(account.user)) == account.secret


def test_production_without_a_key_refuses_to_store_secrets(db: None, settings: Settings) -> None:
    settings.DEBUG = False
    settings.TESTING = False
    settings.MFA_ENCRYPTION_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="MFA_ENCRYPTION_KEY"):
        create_break_glass_account(unique("bg-nokey"))


def test_a_stranger_failing_from_one_address_cannot_lock_the_operator_out(
    client: Client, db: None, break_glass_on: None, settings: Settings
) -> None:
    # given: the real limits, and a stranger who knows the account name
    settings.ACCOUNT_RATE_LIMITS = LIMITS
    account = create_break_glass_account(unique("bg-target"))
    stranger_ip = address()
    stranger = Client()
    # when: the stranger fails many times from his address
    answers = [
        stranger.post(
            "/break-glass/login/",
            {"login": account.user.username, "password": "wrong password guess"},
            REMOTE_ADDR=stranger_ip,
        ).content.decode()
        for _ in range(12)
    ]
    # then: he is stopped after five...
    assert TOO_MANY not in answers[4]
    assert all(TOO_MANY in answer for answer in answers[5:])
    # ...even with the right password, from his address
    assert TOO_MANY in sign_in(stranger, account, stranger_ip).content.decode()
    # and the operator, from another address, signs in
    response = sign_in(client, account, address())
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(account.user.pk)


def test_failures_spread_over_many_addresses_still_lock_the_account(
    client: Client, db: None, break_glass_on: None, settings: Settings
) -> None:
    # given: a per-account limit of 8 failures an hour
    settings.ACCOUNT_RATE_LIMITS = LIMITS
    account = create_break_glass_account(unique("bg-spread"))
    # when: 8 failures, 2 from each of 4 addresses (each below its own limit)
    for ip in [address() for _ in range(4)]:
        for _ in range(2):
            Client().post(
                "/break-glass/login/",
                {"login": account.user.username, "password": "wrong password guess"},
                REMOTE_ADDR=ip,
            )
    # then: the account is locked, from a fresh address too, for the right password
    response = sign_in(client, account, address())
    assert TOO_MANY in response.content.decode()
    assert client.session.get("_auth_user_id") is None


def test_by_default_one_address_cannot_reach_the_per_account_limit() -> None:
    # The default limits keep their promise: the most one address may fail in an hour is
    # below the account's hourly limit.
    from allauth.core.internal.ratelimit import parse_rates
    from django.conf import settings

    per_source = [
        r for r in parse_rates(settings.ACCOUNT_RATE_LIMITS["login_failed"]) if r.per == "key"
    ]
    (per_account,) = parse_rates(settings.ACCOUNT_RATE_LIMITS["login_failed_account"])
    most_per_hour_from_one_address = min(r.amount * 3600 / r.duration for r in per_source)
    assert per_account.duration == 3600
    assert most_per_hour_from_one_address < per_account.amount


def test_behind_a_trusted_proxy_the_limit_follows_the_forwarded_client(
    client: Client, db: None, break_glass_on: None, settings: Settings
) -> None:
    # given: one trusted proxy in front of MI Admin, and a stranger who knows the account name
    settings.ACCOUNT_RATE_LIMITS = LIMITS
    settings.TRUSTED_PROXY_COUNT = 1
    account = create_break_glass_account(unique("bg-proxied"))
    proxy, stranger_ip = address(), address()
    # when: the stranger fails many times; every request reaches us from the proxy's address
    for _ in range(6):
        Client().post(
            "/break-glass/login/",
            {"login": account.user.username, "password": "wrong password guess"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=stranger_ip,
        )
    # then: the operator, through the same proxy from another address, still signs in (the
    # limit counted the stranger's address, not the proxy's)
    first = client.post(
        "/break-glass/login/",
        {"login": account.user.username, "password": account.password},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR=address(),
    )
    assert first.status_code == 302
    # and the stranger's own address is the one that is stopped
    stopped = Client().post(
        "/break-glass/login/",
        {"login": account.user.username, "password": account.password},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR=stranger_ip,
    )
    assert TOO_MANY in stopped.content.decode()
