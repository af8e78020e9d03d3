"""Okta groups → MI Admin roles and mirrored groups, applied on every Okta login.

Okta is the source of truth for who holds which role: each login adds the role groups the
person's Okta groups map to (``settings.OIDC_ROLE_GROUPS``) and removes the ones they no
longer map to. It also mirrors the Okta groups another part of the platform needs by name
(approval steps that name Okta groups as reviewers): each such group becomes a Django group
of the same name, and the person is in it exactly while Okta says so. The parts register
the names they need with :func:`register_mirrored_groups` (accounts imports none of them).
Only the role groups and the mirrored groups are touched; other Django groups are left
alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from mi_admin.accounts.models import User
from mi_admin.accounts.roles import Role, forget_roles
from mi_admin.audit.services import audit_record

logger = logging.getLogger(__name__)

GROUPS_CHANGED = "auth.groups_changed"

MirroredGroups = Callable[[], Iterable[str]]
_MIRRORED: dict[str, MirroredGroups] = {}


def register_mirrored_groups(name: str, names: MirroredGroups) -> None:
    """Declare a source of Okta group names to mirror at login (``names`` is called at every
    login, so it sees the current configuration); the same ``name`` again replaces it."""
    _MIRRORED[name] = names


def mirrored_group_names() -> set[str]:
    """Every Okta group name some part asks to mirror, except the role groups' Django
    names: those are only ever given through the role mapping, so naming one elsewhere can
    never hand out a role."""
    names: set[str] = set()
    for source in _MIRRORED.values():
        names.update(name for name in source() if name)
    return names - set(settings.OIDC_ROLE_GROUPS)


def okta_groups_from_claims(claims: dict[str, Any]) -> set[str]:
    """The Okta group names in the (verified id_token) claims.

    A missing claim counts as no groups: failing closed takes roles away from everyone until
    the Okta app's groups claim is fixed, rather than leaving stale roles in place.
    """
    claim = settings.OIDC_GROUPS_CLAIM
    raw = claims.get(claim)
    if raw is None:
        logger.warning(
            "id_token for %s has no %r claim: check the groups claim of the Okta app",
            claims.get("sub"),
            claim,
        )
        return set()
    if isinstance(raw, str):
        return {raw}
    if isinstance(raw, list | tuple):
        return {str(name) for name in raw}
    logger.warning("ignoring %r claim of unexpected type %s", claim, type(raw).__name__)
    return set()


def roles_for_okta_groups(okta_groups: Collection[str]) -> set[str]:
    """The Django role group names that these Okta groups grant."""
    return {
        django_group
        for django_group, okta_group in settings.OIDC_ROLE_GROUPS.items()
        if okta_group in okta_groups
    }


def sync_roles(user: User, okta_groups: Collection[str]) -> bool:
    """Make the user's role groups, mirrored groups (and ``is_staff``) match Okta; True if
    anything changed.

    The change and its audit event commit together.
    """
    mirrored = mirrored_group_names()
    managed = set(settings.OIDC_ROLE_GROUPS) | mirrored
    roles = roles_for_okta_groups(okta_groups)
    wanted = roles | (mirrored & set(okta_groups))
    is_staff = Role.ADMIN.value in roles
    with transaction.atomic():
        current = set(user.groups.filter(name__in=managed).values_list("name", flat=True))
        was_staff = user.is_staff
        if current == wanted and was_staff == is_staff:
            return False
        if wanted - current:
            user.groups.add(
                *[Group.objects.get_or_create(name=name)[0] for name in wanted - current]
            )
        if current - wanted:
            user.groups.remove(*Group.objects.filter(name__in=current - wanted))
        if was_staff != is_staff:
            user.is_staff = is_staff
            user.save(update_fields=["is_staff"])
        audit_record(
            action=GROUPS_CHANGED,
            obj=user,
            # Okta made the change; the person is the object, not the actor.
            actor_label="okta",
            before={"groups": sorted(current), "is_staff": was_staff},
            after={"groups": sorted(wanted), "is_staff": is_staff},
        )
    forget_roles(user)
    logger.info("roles of %s: %s -> %s", user.username, sorted(current), sorted(wanted))
    return True
