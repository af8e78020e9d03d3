"""New-instance provisioning: the inventory record and its checklist, who ticked what,
"Terraform applied" verified by reading the VM from GCP (simulator, real worker), and the
database holding the checklist's rules."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from instances.choices import (
    CodeHostAccess,
    InstanceKind,
    LifecycleState,
    NetworkAccess,
    OperationKind,
    OperationState,
    ProvisioningStep,
)
from instances.models import Customer, Instance, InstanceProvisioning, Operation, ProvisioningCheck
from instances.provisioning_selectors import instance_for_reference
from instances.services.provisioning import (
    instance_provision_start,
    provisioning_check_tick,
    provisioning_check_untick,
    provisioning_probe_record,
    provisioning_terraform_verify,
)
from mi_admin.audit.models import AuditEvent
from tests.instances.factories import make_customer, make_operation

pytestmark = pytest.mark.django_db


def start(actor, slug="globex-trial", **fields):
    fields.setdefault("reason", "Approved POC for Globex")
    fields.setdefault("customer", make_customer("globex"))
    fields.setdefault("kind", InstanceKind.TRIAL)
    fields.setdefault("architecture", "v1.1")
    fields.setdefault("admin_contact", "it-admin@globex.example")
    return instance_provision_start(actor=actor, slug=slug, **fields)


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_provision_start_creates_the_record_and_its_checklist(devops):
    # given DevOps starting a trial for an existing customer, behind an IP allowlist
    instance = start(
        devops,
        network_access=NetworkAccess.ALLOWLIST,
        allowed_cidrs=["203.0.113.0/24", " 198.51.100.7/32 "],
        code_host_access=CodeHostAccess.ALLOWLIST,
        size="medium",
    )
    # then the inventory record is provisioning, with the values given and defaults from the slug
    instance.refresh_from_db()
    assert instance.state == LifecycleState.PROVISIONING
    assert instance.allowed_cidrs == ["203.0.113.0/24", "198.51.100.7/32"]
    assert instance.gcp_project == "sourcegraph-managed-globex-trial"
    assert instance.url == "https://globex-trial.sourcegraph.com"
    assert instance.admin_contact == "it-admin@globex.example"
    assert instance.code_host_access == CodeHostAccess.ALLOWLIST
    # and its checklist has the four steps, none ticked
    checks = list(ProvisioningCheck.objects.filter(instance=instance).order_by("pk"))
    assert [c.step for c in checks] == list(ProvisioningStep.values)
    assert not any(c.ticked for c in checks)
    # and the start is audited with the reason
    (event,) = events("instance.provision_started")
    assert event.actor_id == devops.pk
    assert event.after["reason"] == "Approved POC for Globex"
    assert event.after["allowed_cidrs"] == ["203.0.113.0/24", "198.51.100.7/32"]


def test_a_new_customer_is_created_and_the_owner_defaults_to_its_ce(devops, persona):
    # given an existing customer with a CE, and a new customer given by name
    ce = persona("ce")
    customer = make_customer("initech", owner_ce=ce)
    # when one instance is started for each
    existing = start(devops, slug="initech-prod", customer=customer, kind=InstanceKind.PRODUCTION)
    fresh = start(
        devops, slug="hooli-trial", customer=None, customer_name="Hooli", customer_slug="hooli"
    )
    # then the first is owned by the customer's CE, and the new customer exists
    assert existing.owner == ce
    assert fresh.customer.slug == "hooli"
    assert Customer.objects.filter(slug="hooli", name="Hooli").exists()


def test_the_same_reference_provisions_one_instance(devops):
    # given an approved request that asks twice (a retry)
    first = start(devops, reference="request:17")
    second = start(devops, slug="another-slug", reference="request:17")
    # then it got the same instance back, and only one exists
    assert second.pk == first.pk
    assert Instance.objects.count() == 1
    assert len(events("instance.provision_started")) == 1
    # and the request finds its instance again by the reference
    assert instance_for_reference(reference="request:17") == first
    assert instance_for_reference(reference="request:18") is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reason": "  "}, "reason is required"),
        ({"network_access": NetworkAccess.ALLOWLIST, "allowed_cidrs": ["10.0.0.1/8"]}, "CIDR"),
        ({"network_access": NetworkAccess.ALLOWLIST, "allowed_cidrs": ["not-an-ip"]}, "not-an-ip"),
        ({"network_access": NetworkAccess.ALLOWLIST, "allowed_cidrs": ["10.0.0.0/33"]}, "CIDR"),
        ({"network_access": NetworkAccess.ALLOWLIST, "allowed_cidrs": []}, "at least one CIDR"),
        ({"allowed_cidrs": ["10.0.0.0/8"]}, "only to an IP allowlist"),
        ({"kind": "gold"}, "Unknown kind"),
        ({"admin_contact": ""}, "admin contact"),
        ({"slug": "Bad Slug"}, "lower-case"),
        ({"gcp_project": "UPPER"}, "not a valid GCP name"),
        ({"customer": None}, "new one's name and slug"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_created(devops, fields, message):
    # given a start with one bad value; when it is asked for
    with pytest.raises(ValidationError) as refused:
        start(devops, **fields)
    # then the message says what is wrong, and nothing was created or audited
    assert message in " ".join(refused.value.messages)
    assert not Instance.objects.exists()
    assert not ProvisioningCheck.objects.exists()
    assert events("instance.provision_started") == []


def test_an_existing_slug_is_refused(devops):
    start(devops)
    with pytest.raises(ValidationError, match="exists already"):
        start(devops)
    assert Instance.objects.count() == 1


def test_ticking_records_who_and_when_and_is_audited(devops, persona):
    # given a provisioning instance
    instance = start(devops)
    admin = persona("admin")
    # when DevOps ticks DNS with a note, and an Admin ticks SSO
    provisioning_check_tick(
        instance=instance, step=ProvisioningStep.DNS, actor=devops, note="CNAME set"
    )
    provisioning_check_tick(instance=instance, step=ProvisioningStep.SSO, actor=admin)
    # then each row says who and when
    dns = ProvisioningCheck.objects.get(instance=instance, step=ProvisioningStep.DNS)
    sso = ProvisioningCheck.objects.get(instance=instance, step=ProvisioningStep.SSO)
    assert (dns.ticked_by, dns.note) == (devops, "CNAME set")
    assert sso.ticked_by == admin
    assert dns.ticked_at is not None
    assert dns.ticked_at <= timezone.now()
    # and each tick is in the trail; ticking again records nothing more
    provisioning_check_tick(instance=instance, step=ProvisioningStep.DNS, actor=admin)
    ticked = events("instance.provisioning_check_ticked")
    assert [(e.actor_id, e.after["step"]) for e in ticked] == [
        (devops.pk, "dns"),
        (admin.pk, "sso"),
    ]
    dns.refresh_from_db()
    assert dns.ticked_by == devops


def test_unticking_needs_a_reason_and_is_audited(devops):
    instance = start(devops)
    provisioning_check_tick(instance=instance, step=ProvisioningStep.DNS, actor=devops)
    # when unticking without a reason: refused, still ticked
    with pytest.raises(ValidationError, match="reason is required"):
        provisioning_check_untick(
            instance=instance, step=ProvisioningStep.DNS, actor=devops, reason=""
        )
    assert ProvisioningCheck.objects.get(instance=instance, step="dns").ticked
    # with a reason: cleared, and the trail has who had ticked it and why it was cleared
    provisioning_check_untick(
        instance=instance, step=ProvisioningStep.DNS, actor=devops, reason="wrong zone"
    )
    assert not ProvisioningCheck.objects.get(instance=instance, step="dns").ticked
    (event,) = events("instance.provisioning_check_unticked")
    assert event.before["ticked_by"] == devops.username
    assert event.after == {"step": "dns", "reason": "wrong zone"}
    # and unticking an open box is refused
    with pytest.raises(ValidationError, match="is not ticked"):
        provisioning_check_untick(instance=instance, step="dns", actor=devops, reason="again")


def test_terraform_cannot_be_ticked_by_hand(devops):
    instance = start(devops)
    with pytest.raises(ValidationError, match="verifying the VM"):
        provisioning_check_tick(instance=instance, step=ProvisioningStep.TERRAFORM, actor=devops)
    assert not ProvisioningCheck.objects.get(instance=instance, step="terraform").ticked


def test_the_checklist_closes_when_the_instance_is_no_longer_provisioning(devops):
    instance = start(devops)
    Instance.objects.filter(pk=instance.pk).update(state=LifecycleState.ACTIVE)
    with pytest.raises(ValidationError, match="not provisioning"):
        provisioning_check_tick(instance=instance, step=ProvisioningStep.DNS, actor=devops)
    with pytest.raises(ValidationError, match="not provisioning"):
        provisioning_terraform_verify(instance=instance, actor=devops)


def test_the_database_keeps_one_row_per_step(devops):
    instance = start(devops)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProvisioningCheck.objects.create(instance=instance, step=ProvisioningStep.DNS)


def test_the_database_refuses_terraform_ticked_without_a_verification(devops):
    instance = start(devops)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProvisioningCheck.objects.filter(instance=instance, step="terraform").update(
            ticked_by=devops, ticked_at=timezone.now()
        )
    # a tick without a person is refused too
    with pytest.raises(IntegrityError), transaction.atomic():
        ProvisioningCheck.objects.filter(instance=instance, step="dns").update(
            ticked_at=timezone.now()
        )


def test_the_database_refuses_a_provisioning_without_a_reason(devops):
    instance = start(devops, slug="x-trial")
    with pytest.raises(IntegrityError), transaction.atomic():
        InstanceProvisioning.objects.filter(instance=instance).update(reason="")


def _tick_all_but_terraform(instance, actor):
    for step in (ProvisioningStep.DNS, ProvisioningStep.SSO, ProvisioningStep.ADMIN_HANDOVER):
        provisioning_check_tick(instance=instance, step=step, actor=actor)


def _verified(instance, actor):
    """Terraform ticked as the verify operation does it (the worker test below runs it)."""
    operation = make_operation(
        instance, kind=OperationKind.PROVISION_VERIFY, state=OperationState.SUCCEEDED
    )
    ProvisioningCheck.objects.filter(instance=instance, step="terraform").update(
        ticked_by=actor, ticked_at=timezone.now(), verified_by_operation=operation
    )


def test_a_healthy_probe_with_an_open_checklist_keeps_it_provisioning(devops):
    instance = start(devops)
    _tick_all_but_terraform(instance, devops)
    went_live = provisioning_probe_record(
        instance_id=instance.pk, ok=True, probed_at=timezone.now()
    )
    instance.refresh_from_db()
    assert not went_live
    assert instance.state == LifecycleState.PROVISIONING
    assert instance.provisioning.healthz_ok is True


def test_an_unhealthy_probe_with_the_checklist_complete_keeps_it_provisioning(devops):
    instance = start(devops)
    _tick_all_but_terraform(instance, devops)
    _verified(instance, devops)
    went_live = provisioning_probe_record(
        instance_id=instance.pk, ok=False, probed_at=timezone.now(), error="HTTP 502"
    )
    instance.refresh_from_db()
    assert not went_live
    assert instance.state == LifecycleState.PROVISIONING
    assert instance.provisioning.healthz_error == "HTTP 502"


def test_going_live_is_audited_and_sets_the_trial_end(devops):
    # given a trial with its checklist complete
    instance = start(devops)
    _tick_all_but_terraform(instance, devops)
    _verified(instance, devops)
    moment = timezone.now()
    # when a sweep reports a healthy probe, then another
    first = provisioning_probe_record(instance_id=instance.pk, ok=True, probed_at=moment)
    second = provisioning_probe_record(instance_id=instance.pk, ok=True, probed_at=moment)
    # then the first moved it to active, audited once, with the trial's end 30 days on
    assert (first, second) == (True, False)
    instance.refresh_from_db()
    assert instance.state == LifecycleState.ACTIVE
    assert instance.went_live_at == moment
    assert instance.trial_ends_on == (moment + dt.timedelta(days=30)).date()
    (event,) = events("instance.went_live")
    assert event.after["trial_ends_on"] == instance.trial_ends_on.isoformat()
    assert event.actor_label == "health-sweep"


def test_going_live_keeps_an_end_date_set_before(devops):
    instance = start(devops)
    _tick_all_but_terraform(instance, devops)
    _verified(instance, devops)
    Instance.objects.filter(pk=instance.pk).update(trial_ends_on=dt.date(2027, 1, 15))
    provisioning_probe_record(instance_id=instance.pk, ok=True, probed_at=timezone.now())
    instance.refresh_from_db()
    assert instance.trial_ends_on == dt.date(2027, 1, 15)


def test_a_production_instance_gets_no_trial_end(devops):
    instance = start(devops, slug="globex-prod", kind=InstanceKind.PRODUCTION)
    _tick_all_but_terraform(instance, devops)
    _verified(instance, devops)
    assert provisioning_probe_record(instance_id=instance.pk, ok=True, probed_at=timezone.now())
    instance.refresh_from_db()
    assert (instance.state, instance.trial_ends_on) == (LifecycleState.ACTIVE, None)


# --- "Terraform applied" read from GCP: the simulator and a real worker ------------------


def _wait_finished(operation: Operation, seconds: float = 30) -> Operation:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        operation.refresh_from_db()
        if operation.finished_at is not None:
            return operation
        time.sleep(0.1)
    raise AssertionError(f"operation {operation.pk} still {operation.state} after {seconds} s")


@pytest.mark.django_db(transaction=True)
def test_terraform_is_verified_by_reading_the_vm(celery_worker, fleetsim, devops):
    # given a provisioning instance whose VM Terraform has not created yet
    instance = start(devops, slug="wayne-trial", customer=make_customer("wayne"))
    # when DevOps verifies: the operation fails saying why, and the box stays unticked
    missing, _ = provisioning_terraform_verify(instance=instance, actor=devops)
    missing = _wait_finished(missing)
    terraform = ProvisioningCheck.objects.get(instance=instance, step="terraform")
    assert missing.state == OperationState.FAILED
    assert (
        "No VM default-red-instance in sourcegraph-managed-wayne-trial/us-central1-f"
        in missing.error
    )
    assert not terraform.ticked
    # when the VM exists but is still starting: refused the same way
    fleetsim.upsert_instances([{"slug": "wayne-trial", "status": "STAGING"}])
    staging, _ = provisioning_terraform_verify(instance=instance, actor=devops)
    staging = _wait_finished(staging)
    assert staging.state == OperationState.FAILED
    assert "is STAGING, not RUNNING" in staging.error
    terraform.refresh_from_db()
    assert not terraform.ticked
    # when it runs: ticked by the person who asked, with the operation as evidence
    fleetsim.upsert_instances([{"slug": "wayne-trial", "status": "RUNNING"}])
    running, _ = provisioning_terraform_verify(instance=instance, actor=devops)
    running = _wait_finished(running)
    terraform.refresh_from_db()
    assert running.state == OperationState.SUCCEEDED, running.error
    assert terraform.ticked_by == devops
    assert terraform.verified_by_operation_id == running.pk
    assert "RUNNING" in terraform.note
    assert [s.name for s in running.steps.order_by("position")] == [
        "Read VM default-red-instance in sourcegraph-managed-wayne-trial/us-central1-f",
        "Tick Terraform applied",
    ]
    ticked = [
        e for e in events("instance.provisioning_check_ticked") if e.after["step"] == "terraform"
    ]
    assert len(ticked) == 1
    assert ticked[0].after["operation"] == running.pk
