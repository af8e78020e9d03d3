"""People who use MI Admin. Roles are Django groups kept in step with Okta on every login."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person: an Okta identity (matched on ``sub``) or a break-glass local account."""

    oidc_sub = models.CharField(
        "Okta subject",
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        help_text="The id_token's `sub`: stable even when the email or name changes.",
    )
    display_name = models.CharField(max_length=255, blank=True)
    slack_user_id = models.CharField(
        "Slack user id",
        max_length=32,
        unique=True,
        null=True,
        blank=True,
        help_text="The Slack member id (e.g. U012AB3CD) whose Approve/Deny buttons act as "
        "this person; empty: Slack buttons are refused for them.",
    )
    is_break_glass = models.BooleanField(
        default=False, help_text="A local emergency account (password + TOTP), not Okta."
    )

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username
