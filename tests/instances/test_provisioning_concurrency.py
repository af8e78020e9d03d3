"""Provisioning raced on separate database connections: the same request provisions one
instance, and two sweeps seeing the first healthy probe move it to active once."""

from __future__ import annotations

from functools import partial

import pytest
from django.utils import timezone

from instances.choices import (
    InstanceKind,
    LifecycleState,
    OperationKind,
    OperationState,
    ProvisioningStep,
)
from instances.models import Instance, ProvisioningCheck
from instances.services.provisioning import (
    instance_provision_start,
    provisioning_check_tick,
    provisioning_probe_record,
)
from mi_admin.audit.models import AuditEvent
from tests.concurrency import run_at_once
from tests.instances.factories import make_customer, make_operation

pytestmark = pytest.mark.django_db(transaction=True)


def _start(actor, reference="", slug="globex-trial"):
    return instance_provision_start(
        actor=actor,
        reason="approved",
        reference=reference,
        customer=make_customer("globex"),
        slug=slug,
        kind=InstanceKind.TRIAL,
        architecture="v1.1",
        admin_contact="admin@globex.example",
    )


def test_one_request_asking_twice_at_once_provisions_one_instance(devops):
    # given the same approved request asking twice at once (two slugs, one reference)
    results = run_at_once(
        partial(_start, devops, "request:5", "globex-trial"),
        partial(_start, devops, "request:5", "globex-trial-2"),
    )
    # then both got the one instance, with one checklist, started once
    instances = [r for r in results if isinstance(r, Instance)]
    assert len(instances) == 2, results
    assert len({i.pk for i in instances}) == 1
    assert Instance.objects.count() == 1
    assert ProvisioningCheck.objects.count() == len(ProvisioningStep)
    assert AuditEvent.objects.filter(action="instance.provision_started").count() == 1


def test_two_sweeps_at_once_move_it_to_active_once(devops):
    # given a trial with its checklist complete
    instance = _start(devops)
    for step in (ProvisioningStep.DNS, ProvisioningStep.SSO, ProvisioningStep.ADMIN_HANDOVER):
        provisioning_check_tick(instance=instance, step=step, actor=devops)
    operation = make_operation(
        instance, kind=OperationKind.PROVISION_VERIFY, state=OperationState.SUCCEEDED
    )
    ProvisioningCheck.objects.filter(instance=instance, step="terraform").update(
        ticked_by=devops, ticked_at=timezone.now(), verified_by_operation=operation
    )
    moment = timezone.now()
    # when two sweeps report its first healthy probe at once
    report = partial(provisioning_probe_record, instance_id=instance.pk, ok=True, probed_at=moment)
    results = run_at_once(report, report)
    # then exactly one moved it, and it is audited once
    assert sorted(results, key=str) == [False, True]
    instance.refresh_from_db()
    assert instance.state == LifecycleState.ACTIVE
    assert AuditEvent.objects.filter(action="instance.went_live").count() == 1
