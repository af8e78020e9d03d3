"""Reads of the access app: a person's grants, who holds access on an instance, one grant."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Prefetch, QuerySet

from access.choices import GrantState
from access.models import AccessGrant, AccessLevel
from instances.models import Instance
from mi_admin.accounts.models import User
from mi_admin.approvals.choices import Decision
from mi_admin.approvals.models import Review


def _grants() -> QuerySet[AccessGrant]:
    return AccessGrant.objects.select_related(
        "instance", "instance__customer", "level", "requester", "ended_by", "approval_request"
    )


def access_grants_of(*, user: User) -> QuerySet[AccessGrant]:
    """The person's requests and grants, newest first (one query)."""
    return _grants().filter(requester=user).order_by("-created_at")


def access_grants_active_on(*, instance: Instance) -> list[AccessGrant]:
    """Who holds access on the instance now, soonest to expire first."""
    return list(_grants().filter(instance=instance, state=GrantState.ACTIVE).order_by("expires_at"))


def access_grant_detail(*, pk: int) -> AccessGrant | None:
    return _grants().filter(pk=pk).first()


def access_levels() -> QuerySet[AccessLevel]:
    return AccessLevel.objects.order_by("name")


def access_grant_list() -> QuerySet[AccessGrant]:
    """Every grant, newest first, with the approvals that let it through (fleet-wide list
    and the access-review export; a fixed number of queries per page or chunk)."""
    approvals = Review.objects.filter(decision=Decision.APPROVE).select_related("reviewer")
    return (
        _grants()
        .prefetch_related(Prefetch("approval_request__reviews", queryset=approvals))
        .order_by("-created_at", "-pk")
    )


def access_review_context(*, grant: AccessGrant) -> dict[str, list[AccessGrant]]:
    """What a reviewer weighs (two queries): the requester's other grants in the last 90
    days, and who else holds access on the instance right now."""
    since = grant.created_at - timedelta(days=90)
    history = list(
        _grants()
        .filter(requester_id=grant.requester_id, created_at__gte=since)
        .exclude(pk=grant.pk)
        .order_by("-created_at")[:50]
    )
    others = [g for g in access_grants_active_on(instance=grant.instance) if g.pk != grant.pk]
    return {"recent_grants": history, "others_active": others}
