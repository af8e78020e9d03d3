"""Reads of the access app: a person's grants, who holds access on an instance, one grant."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Prefetch, QuerySet
from django.utils.text import slugify

from access.choices import GrantState
from access.models import AccessGrant, AccessLevel
from access.services import EXTENSION_KIND, SUBJECT_KIND
from instances.models import Instance
from mi_admin.accounts.models import User
from mi_admin.approvals.choices import Decision
from mi_admin.approvals.models import ApprovalRequest, Review
from mi_admin.ui.spans import span_text
from mi_admin.ui.times import when_text


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


def access_grants_all() -> QuerySet[AccessGrant]:
    """Every grant with what its row shows (one query per page; the API pages by cursor)."""
    return _grants()


def access_level_find(*, name: str) -> AccessLevel | None:
    """The level a person names: its name (any case), its slug ("ssh-os-login") or that
    slug's first word ("ssh"), when exactly one level answers to it."""
    wanted = slugify(name.strip())
    if not wanted:
        return None
    levels = list(access_levels())
    for level in levels:
        if level.name.lower() == name.strip().lower() or slugify(level.name) == wanted:
            return level
    first_word = [level for level in levels if slugify(level.name).split("-")[0] == wanted]
    return first_word[0] if len(first_word) == 1 else None


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


def access_grant_for_approval(*, request: ApprovalRequest) -> AccessGrant | None:
    """The grant an approval request is about (its request or an extension of it); None
    for requests about anything else."""
    if request.subject_kind not in (SUBJECT_KIND, EXTENSION_KIND):
        return None
    try:
        pk = int(request.subject_id)
    except ValueError:
        return None
    return access_grant_detail(pk=pk)


def _stamp(value: datetime | None) -> str:
    return when_text(value)


def access_review_lines(request: ApprovalRequest) -> list[tuple[str, str]]:
    """The review context as text lines for the reviewer's Slack message (registered with
    the approval engine; three queries): instance, level and roles, duration or extension,
    justification, ticket, the requester's grants in the last 90 days, who else has access
    now. The instance's health is on the page the message links to."""
    grant = access_grant_for_approval(request=request)
    if grant is None:
        return []
    instance = grant.instance
    context = access_review_context(grant=grant)
    lines = [
        (
            "Instance",
            f"{instance.slug} · {instance.customer} · {instance.get_kind_display()}"
            + (" · customer opted out" if instance.management_access_opt_out else ""),
        ),
        ("Level", f"{grant.level.name}: {', '.join(grant.level.iam_roles) or 'no roles'}"),
    ]
    if request.subject_kind == EXTENSION_KIND:
        lines.append(("Now until", _stamp(grant.expires_at)))
    else:
        start = (
            "now"
            if grant.requested_start <= grant.created_at + timedelta(minutes=1)
            else (_stamp(grant.requested_start))
        )
        lines.append(("Duration", f"{span_text(grant.duration)}, starting {start}"))
    lines.append(("Justification", grant.justification))
    lines.append(("Ticket", grant.ticket_url or "none"))
    recent = context["recent_grants"]
    lines.append(
        (
            "Their grants in the last 90 days",
            f"{len(recent)}"
            + (": " if recent else "")
            + "; ".join(
                f"#{g.pk} {g.level.name} on {g.instance.slug} ({g.get_state_display().lower()})"
                for g in recent[:5]
            )
            + (" …" if len(recent) > 5 else ""),
        )
    )
    others = context["others_active"]
    lines.append(
        (
            "Who else has access now",
            "; ".join(
                f"{g.requester} ({g.level.name}, until {_stamp(g.expires_at)})" for g in others
            )
            or "nobody",
        )
    )
    return lines
