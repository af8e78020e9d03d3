"""Pure helpers for time-bound IAM bindings: ``request.time < timestamp("...")`` conditions.

GCP evaluates the condition on every access check, so a grant ends at its expiry even if
our revoke task never runs; the revoke task still removes the binding to keep policies tidy.
Conditional bindings require policy version 3, which these helpers set.
"""

from __future__ import annotations

from datetime import UTC, datetime

from instances.gcp.models import IamBinding, IamCondition, IamPolicy


def expiry_condition(
    expires_at: datetime, *, title: str = "", description: str = ""
) -> IamCondition:
    """A condition true until ``expires_at`` (an aware datetime; written in UTC)."""
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise ValueError("expires_at must be timezone-aware")
    stamp = expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return IamCondition(
        title=title or f"expires {stamp}",
        expression=f'request.time < timestamp("{stamp}")',
        description=description,
    )


def policy_with_binding(
    policy: IamPolicy, *, role: str, member: str, condition: IamCondition | None = None
) -> IamPolicy:
    """``policy`` plus ``member`` in ``role`` under ``condition`` (same etag, for the write)."""
    bindings = list(policy.bindings)
    for index, binding in enumerate(bindings):
        if binding.role == role and binding.condition == condition:
            if member in binding.members:
                return policy
            bindings[index] = IamBinding(role, (*binding.members, member), condition)
            break
    else:
        bindings.append(IamBinding(role, (member,), condition))
    return _policy(policy, bindings)


def policy_without_binding(
    policy: IamPolicy, *, role: str, member: str, condition_title: str | None = None
) -> IamPolicy:
    """``policy`` without ``member`` in ``role`` (only under conditions titled
    ``condition_title`` when given); bindings left without members are dropped."""
    bindings: list[IamBinding] = []
    for binding in policy.bindings:
        matches = binding.role == role and (
            condition_title is None
            or (binding.condition is not None and binding.condition.title == condition_title)
        )
        if matches and member in binding.members:
            members = tuple(m for m in binding.members if m != member)
            if members:
                bindings.append(IamBinding(role, members, binding.condition))
        else:
            bindings.append(binding)
    return _policy(policy, bindings)


def _policy(base: IamPolicy, bindings: list[IamBinding]) -> IamPolicy:
    conditional = any(b.condition is not None for b in bindings)
    version = 3 if conditional or base.version == 3 else base.version
    return IamPolicy(version=version, etag=base.etag, bindings=tuple(bindings))
