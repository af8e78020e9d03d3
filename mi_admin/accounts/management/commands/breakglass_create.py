"""``manage.py breakglass_create USERNAME --role mi-devops``: an emergency local account.

Creates the user (``is_break_glass``), gives it one role, a generated password and a TOTP
authenticator, and prints the password and the TOTP secret once: they are not stored in
the clear anywhere, so whoever runs this must put them in the team's vault.
"""

from __future__ import annotations

import secrets
from typing import Any

from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from mi_admin.accounts.models import User
from mi_admin.accounts.roles import Role
from mi_admin.audit.services import audit_record

BREAK_GLASS_CREATED = "auth.break_glass_created"


class Command(BaseCommand):
    help = "Create a break-glass local account with a role, a password and mandatory TOTP."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[role.value for role in Role])
        parser.add_argument("--display-name", default="")
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        role = Role(options["role"])
        if User.objects.filter(username=username).exists():
            raise CommandError(f"a user named {username!r} already exists")
        # 32 URL-safe characters (~190 bits): past every password validator, not guessable.
        password = secrets.token_urlsafe(24)
        secret = generate_totp_secret()
        with transaction.atomic():
            user = User.objects.create_user(
                username,
                email=options["email"],
                password=password,
                display_name=options["display_name"] or f"{username} (break-glass)",
                is_break_glass=True,
                is_staff=role is Role.ADMIN,
            )
            user.groups.add(Group.objects.get_or_create(name=role.value)[0])
            TOTP.activate(user, secret)
            audit_record(
                action=BREAK_GLASS_CREATED,
                obj=user,
                actor_label="manage.py breakglass_create",
                after={"username": username, "role": role.value, "mfa": "totp"},
            )
        uri = get_mfa_adapter().build_totp_url(user, secret)
        out = self.stdout
        out.write(self.style.SUCCESS(f"Created break-glass account {username!r} ({role.label})."))
        out.write("Store these now; they are shown only once.")
        out.write(f"  password:    {password}")
        out.write(f"  TOTP secret: {secret}")
        out.write(f"  otpauth URI: {uri}")
        if not settings.BREAK_GLASS_ENABLED:
            out.write(
                self.style.WARNING(
                    "BREAK_GLASS_ENABLED is off: the account cannot sign in until it is on."
                )
            )
