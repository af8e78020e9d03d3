"""The people of the local IdP, and the relying party registered with it.

Each persona stands for one kind of MI Admin user; their Okta-like groups decide the role
MI Admin gives them. Groups can be changed between two logins (``python -m idp set-groups``
or the IdP's Django admin), which is how the tests exercise group sync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.db import transaction
from oauth2_provider.models import get_application_model

from idp import (
    CLI_CLIENT_ID,
    CLI_REDIRECT_PATH,
    CLIENT_ID,
    DEFAULT_MACHINE_CLIENT_SECRET,
    DEMO_PASSWORD,
    MACHINE_CLIENT_ID,
)

logger = logging.getLogger(__name__)

PASSWORD = DEMO_PASSWORD
ADMIN_USERNAME = "idp-admin"


@dataclass(frozen=True)
class Persona:
    """One demo person: login name, full name and initial groups."""

    username: str
    first_name: str
    last_name: str
    groups: tuple[str, ...]

    @property
    def email(self) -> str:
        return f"{self.username}@example.com"


PERSONAS: tuple[Persona, ...] = (
    Persona("devops", "Dana", "Devops", ("mi-devops",)),
    Persona("manager", "Morgan", "Manager", ("mi-managers",)),
    Persona("ce", "Casey", "Engineer", ("mi-ce",)),
    Persona("admin", "Ada", "Admin", ("mi-admins",)),
    Persona("stranger", "Sam", "Stranger", ()),
)

# Okta groups that exist with no members at first: site-admin grants add people to them
# through the Okta API (idp/api.py) for the time of the grant.
SEEDED_GROUPS = ("mi-site-admins",)

# Registered for any port (RFC 8252 loopback rule, see settings.ALLOW_LOCALHOST_LOOPBACK).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
CALLBACK_PATH = "/oidc/callback/"
POST_LOGOUT_PATHS = ("/login/?logged_out=1", "/login/")


def set_groups(username: str, groups: Iterable[str]) -> list[str]:
    """Replace a user's groups (creating groups as needed); returns the new sorted list."""
    names = sorted(set(groups))
    with transaction.atomic():
        user = User.objects.get(username=username)
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in names])
    logger.info("groups of %s are now %s", username, names)
    return names


def seed_personas() -> None:
    """Create missing personas (existing ones keep the groups someone gave them) and the
    seeded groups."""
    for persona in PERSONAS:
        if User.objects.filter(username=persona.username).exists():
            continue
        User.objects.create_user(
            persona.username,
            email=persona.email,
            password=PASSWORD,
            first_name=persona.first_name,
            last_name=persona.last_name,
        )
        set_groups(persona.username, persona.groups)
    for name in SEEDED_GROUPS:
        Group.objects.get_or_create(name=name)
    if not User.objects.filter(username=ADMIN_USERNAME).exists():
        User.objects.create_superuser(ADMIN_USERNAME, email="", password=PASSWORD)


def default_redirect_uris() -> list[str]:
    return [f"http://{host}{CALLBACK_PATH}" for host in LOOPBACK_HOSTS]


def default_post_logout_redirect_uris() -> list[str]:
    return [f"http://{host}{path}" for host in LOOPBACK_HOSTS for path in POST_LOGOUT_PATHS]


def register_client(
    *,
    client_secret: str,
    redirect_uris: Sequence[str] = (),
    post_logout_redirect_uris: Sequence[str] = (),
) -> None:
    """Create or update the MI Admin client: confidential, authorization code, RS256."""
    application_model = get_application_model()
    redirects = [*default_redirect_uris(), *redirect_uris]
    logouts = [*default_post_logout_redirect_uris(), *post_logout_redirect_uris]
    application_model.objects.update_or_create(
        client_id=CLIENT_ID,
        defaults={
            "name": "MI Admin",
            "client_type": application_model.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": application_model.GRANT_AUTHORIZATION_CODE,
            # Stored hashed; set from the command line on every start.
            "client_secret": client_secret,
            "hash_client_secret": True,
            "algorithm": application_model.RS256_ALGORITHM,
            "redirect_uris": " ".join(dict.fromkeys(redirects)),
            "post_logout_redirect_uris": " ".join(dict.fromkeys(logouts)),
            # Okta does not ask employees to consent to an internal app either.
            "skip_authorization": True,
        },
    )
    logger.info("client %s accepts redirects to %s", CLIENT_ID, redirects)


# The API's clients at the custom authorization server: the `mi` command line (public,
# authorization code + PKCE on a loopback redirect, any port) and a CI job (confidential,
# client credentials; MI Admin maps its client id to a role).


def register_api_clients(*, machine_client_secret: str = DEFAULT_MACHINE_CLIENT_SECRET) -> None:
    application_model = get_application_model()
    application_model.objects.update_or_create(
        client_id=CLI_CLIENT_ID,
        defaults={
            "name": "mi command line",
            "client_type": application_model.CLIENT_PUBLIC,
            "authorization_grant_type": application_model.GRANT_AUTHORIZATION_CODE,
            "client_secret": "",
            "algorithm": application_model.RS256_ALGORITHM,
            "redirect_uris": " ".join(
                f"http://{host}{CLI_REDIRECT_PATH}" for host in LOOPBACK_HOSTS
            ),
            "skip_authorization": True,
        },
    )
    application_model.objects.update_or_create(
        client_id=MACHINE_CLIENT_ID,
        defaults={
            "name": "CI (machine client)",
            "client_type": application_model.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": application_model.GRANT_CLIENT_CREDENTIALS,
            "client_secret": machine_client_secret,
            "hash_client_secret": True,
            "algorithm": application_model.RS256_ALGORITHM,
        },
    )
    logger.info("API clients %s and %s registered", CLI_CLIENT_ID, MACHINE_CLIENT_ID)
