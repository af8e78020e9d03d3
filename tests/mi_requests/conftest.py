"""Fixtures of the request tests: the request approval policies (seeded by migration 0002;
a flush by an earlier transactional test removes them), people, and an instance."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps as django_apps

from instances.models import Instance
from mi_admin.accounts.models import User
from mi_admin.approvals.services import approval_review_submit
from mi_requests.models import CustomerRequest
from mi_requests.services.requests import request_acknowledge, request_submit
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance

_seed = importlib.import_module("mi_requests.migrations.0002_request_approval_policies")


def ensure_policies() -> None:
    _seed.create(django_apps, None)


@pytest.fixture
def policies(db: None) -> None:
    ensure_policies()


@pytest.fixture
def people(db: None) -> dict[str, User]:
    return {name: make_persona(name) for name in ("ce", "devops", "manager", "admin")}


@pytest.fixture
def acme(db: None) -> Instance:
    return make_instance("acme-prod", data_disk="default-red-data-disk")


def file_suspension(ce: User, instance: Instance, **kwargs: Any) -> CustomerRequest:
    return request_submit(
        requester=ce,
        kind="suspension",
        instance=instance,
        reason=kwargs.pop("reason", "customer pauses the POC until Q2"),
        details={"expected_return": "2027-03-01"},
        **kwargs,
    )


@pytest.fixture
def approved_suspension(
    policies: None,
    people: dict[str, User],
    acme: Instance,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> CustomerRequest:
    """A suspension of acme-prod filed by ce, acknowledged by devops, approved by manager."""
    request = file_suspension(people["ce"], acme)
    request_acknowledge(request=request, actor=people["devops"])
    approval = request.approvals.get().approval
    with django_capture_on_commit_callbacks(execute=True):
        approval_review_submit(request=approval, reviewer=people["manager"], decision="approve")
    request.refresh_from_db()
    return request
