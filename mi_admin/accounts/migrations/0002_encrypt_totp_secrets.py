"""Encrypts the break-glass TOTP secrets stored in clear before MFA_ENCRYPTION_KEY existed."""

from typing import Any

from django.db import migrations

from mi_admin.accounts.mfa_crypto import decrypt_secret, is_encrypted, reencrypt_secret


def encrypt_secrets(apps: Any, schema_editor: Any) -> None:
    authenticator = apps.get_model("mfa", "Authenticator")
    for row in authenticator.objects.filter(type="totp"):
        secret = row.data.get("secret", "")
        if secret and not is_encrypted(secret):
            row.data["secret"] = reencrypt_secret(secret)
            row.save(update_fields=["data"])


def decrypt_secrets(apps: Any, schema_editor: Any) -> None:
    authenticator = apps.get_model("mfa", "Authenticator")
    for row in authenticator.objects.filter(type="totp"):
        secret = row.data.get("secret", "")
        if secret and is_encrypted(secret):
            row.data["secret"] = decrypt_secret(secret)
            row.save(update_fields=["data"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(encrypt_secrets, decrypt_secrets)]
