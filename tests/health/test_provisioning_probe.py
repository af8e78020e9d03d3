"""The sweep probes provisioning instances only to see them go live: no samples, no health
state, no alert while provisioning; active (and then monitored) at the first healthy probe
with the checklist complete."""

from __future__ import annotations

import pytest
from django.utils import timezone

from health.models import HealthDaily, HealthSample, Incident, InstanceHealth
from instances.choices import (
    InstanceKind,
    LifecycleState,
    OperationKind,
    OperationState,
    ProvisioningStep,
)
from instances.models import ProvisioningCheck
from instances.services.provisioning import (
    instance_provision_start,
    provisioning_check_tick,
    provisioning_check_untick,
)
from mi_admin.audit.models import AuditEvent
from tests.instances.factories import make_customer, make_operation

pytestmark = pytest.mark.django_db


def provisioning(fleetsim, devops, slug="globex-trial", health_mode="ok"):
    fleetsim.upsert_instances([{"slug": slug, "version": "5.9.0", "health_mode": health_mode}])
    return instance_provision_start(
        actor=devops,
        reason="approved POC",
        customer=make_customer("globex"),
        slug=slug,
        kind=InstanceKind.TRIAL,
        architecture="v1.1",
        admin_contact="admin@globex.example",
        url=fleetsim.instance_url(slug),
    )


def complete(instance, actor):
    for step in (ProvisioningStep.DNS, ProvisioningStep.SSO, ProvisioningStep.ADMIN_HANDOVER):
        provisioning_check_tick(instance=instance, step=step, actor=actor)
    operation = make_operation(
        instance, kind=OperationKind.PROVISION_VERIFY, state=OperationState.SUCCEEDED
    )
    ProvisioningCheck.objects.filter(instance=instance, step="terraform").update(
        ticked_by=actor, ticked_at=timezone.now(), verified_by_operation=operation
    )


def test_provisioning_is_probed_but_not_monitored(fleetsim, devops, run_sweep, alert_channels):
    # given a provisioning instance whose /healthz fails, checklist complete
    instance = provisioning(fleetsim, devops, health_mode="error")
    complete(instance, devops)
    # when several sweeps run
    for _ in range(4):
        report = run_sweep()
    # then it was probed (the failure is recorded for the page) but it has no samples, no
    # uptime, no health state and no incident, and nobody was paged; it still provisions
    instance.refresh_from_db()
    assert instance.state == LifecycleState.PROVISIONING
    assert instance.provisioning.healthz_ok is False
    assert "500" in instance.provisioning.healthz_error
    assert not HealthSample.objects.filter(instance=instance).exists()
    assert not HealthDaily.objects.filter(instance=instance).exists()
    assert not InstanceHealth.objects.filter(instance=instance).exists()
    assert not Incident.objects.exists()
    assert alert_channels.requests == []
    assert report.probed == 0


def test_first_healthy_probe_with_checklist_complete_goes_live_then_monitored(
    fleetsim, devops, run_sweep
):
    # given a provisioning instance answering /healthz, with one box still open
    instance = provisioning(fleetsim, devops)
    complete(instance, devops)
    provisioning_check_untick(
        instance=instance, step=ProvisioningStep.SSO, actor=devops, reason="IdP not ready"
    )
    # when a sweep runs: healthy, but the checklist is open, so it stays provisioning
    run_sweep()
    instance.refresh_from_db()
    assert instance.state == LifecycleState.PROVISIONING
    assert instance.provisioning.healthz_ok is True
    # when SSO is ticked and the next sweep runs: it goes live, once, no sample yet
    provisioning_check_tick(instance=instance, step=ProvisioningStep.SSO, actor=devops)
    report = run_sweep()
    instance.refresh_from_db()
    assert report.went_live == 1
    assert instance.state == LifecycleState.ACTIVE
    assert instance.went_live_at is not None
    assert not HealthSample.objects.filter(instance=instance).exists()
    # and from the next sweep on it is monitored like any active instance
    report = run_sweep()
    assert report.went_live == 0
    assert report.probed == 1
    assert HealthSample.objects.filter(instance=instance, ok=True).count() == 1
    assert AuditEvent.objects.filter(action="instance.went_live").count() == 1
