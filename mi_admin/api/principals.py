"""Who a verified token speaks for, and with which role: the same mapping as a browser login.

A person's token carries the Okta user id (``uid``, as Okta's custom authorization servers
put it; ``sub`` there is the login) and the ``groups`` claim: the MI Admin user is matched
on that id (the id_token's ``sub`` at browser login) and their role groups follow the token's
groups through :func:`mi_admin.accounts.group_sync.sync_roles`, exactly as at login. A
machine client (client credentials: ``sub`` is the client id, no user) is the service user
``client-<id>`` with the role ``API_MACHINE_CLIENTS`` gives that client id.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction

from mi_admin.accounts.group_sync import okta_groups_from_claims, sync_roles
from mi_admin.accounts.models import User
from mi_admin.api.tokens import VerifiedToken
from mi_admin.audit.services import audit_record

logger = logging.getLogger(__name__)

MACHINE_SUB_PREFIX = "client:"


class PrincipalRefused(Exception):
    """A valid token that names nobody MI Admin lets in (the sentence says why)."""


def _get_or_create(*, sub: str, username: str, display_name: str, email: str = "") -> User:
    user = User.objects.filter(oidc_sub=sub).first()
    if user is not None:
        return user
    try:
        with transaction.atomic():
            user = User(
                username=username[:150], oidc_sub=sub, display_name=display_name, email=email
            )
            user.set_unusable_password()
            user.save()
            audit_record(
                action="auth.user_created",
                obj=user,
                actor_label="okta",
                after={"username": user.username, "oidc_sub": sub, "via": "api token"},
            )
    except IntegrityError:
        # Two first requests at once: the other one created them.
        return User.objects.get(oidc_sub=sub)
    logger.info("created %s for token subject %s", user.username, sub)
    return user


def principal_for_token(token: VerifiedToken) -> User:
    """The user a verified token acts as, with role groups as the token says."""
    if token.is_machine:
        role = settings.API_MACHINE_CLIENTS.get(token.client_id)
        if not role:
            raise PrincipalRefused(
                f"client {token.client_id!r} is not mapped to a role (API_MACHINE_CLIENTS)"
            )
        user = _get_or_create(
            sub=MACHINE_SUB_PREFIX + token.client_id,
            username=f"client-{token.client_id}",
            display_name=f"API client {token.client_id}",
        )
        okta_groups = {settings.OIDC_ROLE_GROUPS[role]}
    else:
        claims = token.claims
        person = str(claims.get(settings.API_TOKEN_USER_ID_CLAIM) or token.subject)
        user = _get_or_create(
            sub=person,
            username=str(claims.get("preferred_username") or token.subject),
            display_name=str(claims.get("name") or ""),
            # Okta's access tokens carry no email claim by default; their ``sub`` is the
            # login, an email address: what IAM grants (user:<email>) need.
            email=str(claims.get("email") or (token.subject if "@" in token.subject else "")),
        )
        okta_groups = okta_groups_from_claims(claims)
    if not user.is_active:
        raise PrincipalRefused(f"{user.username} is deactivated in MI Admin")
    sync_roles(user, okta_groups)
    return user
