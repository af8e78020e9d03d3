"""Secrets the IdP keeps in its data directory, made on first start and reused after.

Keeping the RSA key means id_tokens issued before a restart still verify (same ``kid``), and
the tests can read the key to sign tokens of their own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SIGNING_KEY_FILE = "oidc_rsa_private.pem"
SECRET_KEY_FILE = "django_secret_key.txt"  # noqa: S105 (a file name)


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start: the file is a private key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def signing_key_pem(data_dir: Path) -> str:
    """The RS256 signing key (PEM), generated on first use."""
    path = data_dir / SIGNING_KEY_FILE
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )
        # Another process may have made it first: then read theirs.
        with contextlib.suppress(FileExistsError):
            _write_private(path, pem)
    return path.read_text()


def django_secret_key(data_dir: Path) -> str:
    """The IdP's own SECRET_KEY (sessions, CSRF), generated on first use."""
    path = data_dir / SECRET_KEY_FILE
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            _write_private(path, secrets.token_urlsafe(50).encode())
    return path.read_text().strip()
