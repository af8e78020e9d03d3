"""Break-glass TOTP secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under keys from the
environment, so a database dump or Django admin never shows a usable secret.

``MFA_ENCRYPTION_KEY`` holds one or more comma-separated Fernet keys: the first encrypts,
every one decrypts (rotation: put the new key first and keep the old one after it; secrets
written from then on use the new key). Production with break-glass on
must set it (settings stop start-up otherwise); DEBUG and the tests fall back to a key
derived from SECRET_KEY so ``make run`` works out of the box.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Every Fernet token starts with version byte 0x80, which base64 writes as "gAAAAA".
TOKEN_PREFIX = "gAAAAA"  # noqa: S105 (a format marker, not a secret)


class SecretDecryptionError(ImproperlyConfigured):
    """A stored secret no configured key opens (wrong or dropped MFA_ENCRYPTION_KEY)."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


def _derived_dev_key() -> bytes:
    digest = hashlib.sha256(f"mi-admin-mfa:{settings.SECRET_KEY}".encode()).digest()
    return base64.urlsafe_b64encode(digest)


def _fernet() -> MultiFernet:
    keys = [key.strip() for key in settings.MFA_ENCRYPTION_KEY.split(",") if key.strip()]
    if not keys:
        if not (settings.DEBUG or settings.TESTING):
            raise ImproperlyConfigured(
                "MFA_ENCRYPTION_KEY must be set to store break-glass TOTP secrets (README.md)."
            )
        return MultiFernet([Fernet(_derived_dev_key())])
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"MFA_ENCRYPTION_KEY is not a list of Fernet keys: {exc}"
        ) from exc


def is_encrypted(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


def encrypt_secret(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt_secret(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "a stored TOTP secret cannot be decrypted with MFA_ENCRYPTION_KEY "
            "(was the key changed without keeping the old one?)"
        ) from exc


def reencrypt_secret(value: str) -> str:
    """``value`` encrypted under the current first key, whether it was clear text (a secret
    stored before encryption) or a token under any configured key."""
    if not is_encrypted(value):
        return encrypt_secret(value)
    try:
        return _fernet().rotate(value.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError("a stored TOTP secret cannot be decrypted") from exc
