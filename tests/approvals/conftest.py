"""Fixtures of the approval tests: a test-only subject kind whose handler records every
decision it hears, people by role or Okta group, and policies built from a short spec."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group

from mi_admin.accounts.models import User
from mi_admin.accounts.roles import Role
from mi_admin.approvals.models import ApprovalPolicy, ApprovalRequest, ApprovalStep
from mi_admin.approvals.registry import register_subject, unregister_subject
from mi_admin.approvals.services import approval_request_create

SUBJECT_KIND = "test.subject"
SECURITY_GROUP = "security-reviewers"

# Who is who in these tests: name → groups (role values or Okta group names).
PEOPLE: dict[str, tuple[str, ...]] = {
    "requester": (Role.DEVOPS.value,),
    "m1": (Role.MANAGER.value,),
    "m2": (Role.MANAGER.value,),
    "m3": (Role.MANAGER.value,),
    "dev2": (Role.DEVOPS.value,),
    "ce1": (Role.CE.value,),
    "adm": (Role.ADMIN.value,),
    "sec1": (Role.DEVOPS.value, SECURITY_GROUP),
    "sec2": (Role.CE.value, SECURITY_GROUP),
}


def make_person(name: str) -> User:
    user, _ = User.objects.get_or_create(
        username=name, defaults={"oidc_sub": f"sub-{name}", "email": f"{name}@example.com"}
    )
    for group_name in PEOPLE[name]:
        user.groups.add(Group.objects.get_or_create(name=group_name)[0])
    return user


@pytest.fixture
def person(db: None) -> Callable[[str], User]:
    return make_person


@dataclass
class Decisions:
    """What the subject's app heard: (request id, state) per call, in order."""

    calls: list[tuple[int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: ApprovalRequest) -> None:
        with self.lock:
            self.calls.append((request.pk, request.state))


@pytest.fixture
def decisions() -> Iterator[Decisions]:
    """Registers the test subject kind; its handler records each decision."""
    heard = Decisions()
    register_subject(SUBJECT_KIND, label="Test subject", on_decided=heard)
    yield heard
    unregister_subject(SUBJECT_KIND)


@dataclass(frozen=True)
class StepSpec:
    name: str
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    quorum: int = 1
    reason: bool = False


MANAGER_STEP = StepSpec("Manager", roles=(Role.MANAGER.value,))
SECURITY_STEP = StepSpec("Security", groups=(SECURITY_GROUP,))


def make_policy(
    *steps: StepSpec, slug: str = "test-policy", ttl: timedelta = timedelta(hours=24)
) -> ApprovalPolicy:
    policy = ApprovalPolicy.objects.create(slug=slug, name=slug.replace("-", " "), ttl=ttl)
    for position, spec in enumerate(steps, start=1):
        step = ApprovalStep(
            policy=policy,
            position=position,
            name=spec.name,
            reviewer_roles=list(spec.roles),
            okta_groups=list(spec.groups),
            quorum=spec.quorum,
            reason_required=spec.reason,
        )
        if spec.roles or spec.groups:  # an empty step is built on purpose: the service's check
            step.full_clean()
        step.save()
    return policy


def file_request(
    policy: ApprovalPolicy, requester: User, *, subject_id: str = "42"
) -> ApprovalRequest:
    return approval_request_create(
        policy=policy,
        requester=requester,
        subject_kind=SUBJECT_KIND,
        subject_id=subject_id,
        subject_summary=f"Test subject {subject_id}",
    )
