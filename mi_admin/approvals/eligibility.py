"""Who may review what: the one place the service, the pages and any future API ask.

A reviewer of a step is a member of one of its roles (Django groups named after the role) or
of one of its named Okta groups (Django groups of that name). The requester never is, and
nobody reviews a request twice. Every refusal is a sentence the person can act on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils import timezone

from mi_admin.accounts.roles import Role
from mi_admin.approvals.choices import RequestState
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.ui.times import when_text

_CACHE_ATTR = "_mi_approval_groups"


def user_group_names(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    """The names of the user's groups (roles and mirrored Okta groups), one query per user
    object."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached: frozenset[str] | None = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        setattr(user, _CACHE_ATTR, cached)
    return cached


def step_groups(step: dict[str, Any]) -> list[str]:
    """Every group name whose members may review ``step``."""
    return sorted({*step.get("roles", []), *step.get("groups", [])})


def step_reviewers_label(step: dict[str, Any]) -> str:
    """ "Manager or security", for messages and pages."""
    labels = dict(Role.choices)
    names = [labels.get(role, role) for role in step.get("roles", [])]
    names += [f"Okta group {group}" for group in step.get("groups", [])]
    return " or ".join(names) if names else "nobody"


def is_step_reviewer(user: AbstractBaseUser | AnonymousUser, step: dict[str, Any]) -> bool:
    return bool(user_group_names(user) & set(step_groups(step)))


def review_refusal(
    request: ApprovalRequest,
    user: AbstractBaseUser | AnonymousUser,
    *,
    already_reviewed: bool,
    now: datetime | None = None,
) -> str | None:
    """Why ``user`` may not review ``request`` now, or None if they may."""
    now = now or timezone.now()
    if request.state == RequestState.EXPIRED or (
        request.state == RequestState.PENDING and now >= request.expires_at
    ):
        return (
            f"This request expired at {when_text(request.expires_at)} without a "
            "decision; it takes no more reviews. Ask the requester to file it again."
        )
    if request.state != RequestState.PENDING:
        state = request.get_state_display().lower()
        return f"This request is already {state}; it takes no more reviews."
    if user.pk is not None and user.pk == request.requester_id:
        return "You filed this request: someone else must review it."
    if already_reviewed:
        return "You already reviewed this request; nobody reviews twice."
    step = request.step(request.current_step)
    if not is_step_reviewer(user, step):
        return (
            f"Step {request.current_step} of {request.step_count} ({step['name']}) is reviewed "
            f"by {step_reviewers_label(step)}; you are not one of them."
        )
    return None
