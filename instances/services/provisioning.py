"""New instances: the inventory record, its provisioning checklist, and going live.

:func:`instance_provision_start` creates the instance in state PROVISIONING with one
checklist row per :class:`~instances.choices.ProvisioningStep` (from an approved request,
which passes ``reference="request:<pk>"``, or directly by DevOps/Admin with a reason).
People tick the boxes (:func:`provisioning_check_tick`, :func:`provisioning_check_untick`);
"Terraform applied" is ticked only by a ``provision_verify`` operation that read the VM
running in GCP (:func:`provisioning_terraform_verify` asks for it, the runner in
``instances/runners/provision.py`` calls :func:`provisioning_terraform_record`). The health
sweep probes provisioning instances without counting them towards uptime, and reports each
probe to :func:`provisioning_probe_record`: the first healthy probe with the checklist
complete moves the instance to ACTIVE, once (a conditional UPDATE under the row lock).

Errors are ``django.core.exceptions.ValidationError`` with a sentence a person can act on
(the contract the lifecycle services keep too).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from instances.choices import (
    Architecture,
    CodeHostAccess,
    InstanceKind,
    LifecycleState,
    NetworkAccess,
    OperationKind,
    ProvisioningStep,
    Size,
)
from instances.models import (
    Customer,
    Instance,
    InstanceProvisioning,
    Operation,
    ProvisioningCheck,
)
from instances.services.operations import operation_create
from mi_admin.accounts.models import User
from mi_admin.audit.services import audit_record

logger = logging.getLogger(__name__)

TRIAL_DAYS = 30
REASON_LIMIT = 1000
_GCP_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_SLUG = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def cidrs_clean(values: Sequence[str]) -> list[str]:
    """The CIDRs in canonical form; a ValidationError naming every one that is not a
    network (host bits set, a bad prefix, not an address at all)."""
    cleaned: list[str] = []
    bad: list[str] = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        try:
            cleaned.append(str(ipaddress.ip_network(value, strict=True)))
        except ValueError:
            bad.append(value)
    if bad:
        raise ValidationError(
            "Not a network in CIDR notation (e.g. 203.0.113.0/24, no host bits set): "
            + ", ".join(repr(b[:50]) for b in bad)
        )
    return list(dict.fromkeys(cleaned))


def _required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why (a reason is required and goes in the audit trail).")
    if len(reason) > REASON_LIMIT:
        raise ValidationError(f"The reason is too long (at most {REASON_LIMIT} characters).")
    return reason


def _customer_for(
    *, customer: Customer | None, customer_name: str, customer_slug: str
) -> tuple[Customer, bool]:
    if customer is not None:
        return customer, False
    name, slug = customer_name.strip(), customer_slug.strip()
    if not name or not slug:
        raise ValidationError("Pick an existing customer, or give a new one's name and slug.")
    if not _SLUG.match(slug):
        raise ValidationError(f"Customer slug {slug!r}: lower-case letters, digits and dashes.")
    if Customer.objects.filter(slug=slug).exists():
        raise ValidationError(f"A customer with slug {slug!r} exists already: pick it instead.")
    return Customer.objects.create(name=name[:200], slug=slug), True


def _checks_create(instance: Instance) -> None:
    ProvisioningCheck.objects.bulk_create(
        [ProvisioningCheck(instance=instance, step=step) for step in ProvisioningStep]
    )


def instance_provision_start(
    *,
    actor: User,
    reason: str,
    reference: str = "",
    customer: Customer | None = None,
    customer_name: str = "",
    customer_slug: str = "",
    slug: str,
    kind: str,
    architecture: str,
    size: str = Size.SMALL,
    admin_contact: str,
    network_access: str = NetworkAccess.PUBLIC_SSO,
    allowed_cidrs: Sequence[str] = (),
    code_host_access: str = CodeHostAccess.PUBLIC,
    url: str = "",
    gcp_project: str = "",
    gcp_zone: str = "us-central1-f",
    vm_name: str = "default-red-instance",
    owner: User | None = None,
) -> Instance:
    """Create a new instance in PROVISIONING with its checklist, audited.

    The same non-empty ``reference`` returns the instance it already provisions (a request
    asking twice). ``customer`` is an existing one; otherwise ``customer_name`` and
    ``customer_slug`` create it. ``url`` and ``gcp_project`` default from the slug
    (``https://<slug>.sourcegraph.com``, ``sourcegraph-managed-<slug>``).
    """
    reason = _required_reason(reason)
    reference = reference.strip()
    if len(reference) > 64:
        raise ValidationError("The reference is too long (at most 64 characters).")
    if reference:
        found = InstanceProvisioning.objects.filter(reference=reference).select_related("instance")
        if (existing := found.first()) is not None:
            return existing.instance
    slug = slug.strip()
    if not _SLUG.match(slug):
        raise ValidationError(
            f"Instance slug {slug!r}: 1-63 lower-case letters, digits and dashes, "
            "starting and ending with a letter or digit."
        )
    if kind not in (InstanceKind.TRIAL, InstanceKind.PRODUCTION, InstanceKind.INTERNAL):
        raise ValidationError(f"Unknown kind {kind!r}: trial, production or internal.")
    if architecture not in Architecture.values:
        raise ValidationError(f"Unknown architecture {architecture!r}.")
    if size not in Size.values:
        raise ValidationError(f"Unknown size {size!r}.")
    if network_access not in NetworkAccess.values:
        raise ValidationError(f"Unknown inbound access {network_access!r}.")
    if code_host_access not in CodeHostAccess.values:
        raise ValidationError(f"Unknown code-host connectivity {code_host_access!r}.")
    admin_contact = admin_contact.strip()
    if not admin_contact:
        raise ValidationError("Name the customer's admin contact (who receives the account).")
    cidrs = cidrs_clean(allowed_cidrs)
    if network_access == NetworkAccess.ALLOWLIST and not cidrs:
        raise ValidationError("An IP allowlist needs at least one CIDR.")
    if network_access == NetworkAccess.PUBLIC_SSO and cidrs:
        raise ValidationError("CIDRs apply only to an IP allowlist; clear them or pick it.")
    gcp_project = gcp_project.strip() or f"sourcegraph-managed-{slug}"[:63]
    for label, value in (("GCP project", gcp_project), ("zone", gcp_zone), ("VM", vm_name)):
        if not _GCP_NAME.match(value):
            raise ValidationError(f"{label} {value!r} is not a valid GCP name.")
    url = url.strip() or f"https://{slug}.sourcegraph.com"
    if not url.startswith(("https://", "http://")):
        raise ValidationError(f"URL {url!r} must start with https://.")
    with transaction.atomic():
        if Instance.objects.filter(slug=slug).exists():
            raise ValidationError(f"An instance {slug!r} exists already.")
        the_customer, new_customer = _customer_for(
            customer=customer, customer_name=customer_name, customer_slug=customer_slug
        )
        try:
            with transaction.atomic():
                instance = Instance.objects.create(
                    customer=the_customer,
                    slug=slug,
                    url=url[:255],
                    kind=kind,
                    architecture=architecture,
                    size=size,
                    state=LifecycleState.PROVISIONING,
                    network_access=network_access,
                    allowed_cidrs=cidrs,
                    code_host_access=code_host_access,
                    admin_contact=admin_contact[:254],
                    gcp_project=gcp_project,
                    gcp_zone=gcp_zone,
                    vm_name=vm_name,
                    owner=owner or the_customer.owner_ce,
                )
                InstanceProvisioning.objects.create(
                    instance=instance, started_by=actor, reason=reason, reference=reference
                )
        except IntegrityError as exc:
            # Lost a race: the same reference or slug was provisioned a moment ago.
            if reference:
                winner = InstanceProvisioning.objects.filter(reference=reference).first()
                if winner is not None:
                    return winner.instance
            raise ValidationError(f"An instance {slug!r} exists already.") from exc
        _checks_create(instance)
        audit_record(
            action="instance.provision_started",
            actor=actor,
            obj=instance,
            after={
                "reason": reason,
                "reference": reference,
                "customer": the_customer.slug,
                "new_customer": new_customer,
                "kind": kind,
                "architecture": architecture,
                "size": size,
                "admin_contact": admin_contact,
                "network_access": network_access,
                "allowed_cidrs": cidrs,
                "code_host_access": code_host_access,
                "gcp_project": gcp_project,
                "owner": instance.owner.get_username() if instance.owner else None,
            },
        )
    logger.info("provisioning of %s started by %s", slug, actor)
    return instance


def _locked_check(instance: Instance, step: str) -> ProvisioningCheck:
    """The checklist row, locked, of an instance that is still provisioning."""
    if step not in ProvisioningStep.values:
        raise ValidationError(f"Unknown checklist step {step!r}.")
    locked = Instance.objects.select_for_update().get(pk=instance.pk)
    if locked.state != LifecycleState.PROVISIONING:
        raise ValidationError(
            f"{locked.slug} is {locked.get_state_display().lower()}, not provisioning: "
            "its checklist is closed."
        )
    check = ProvisioningCheck.objects.select_for_update().filter(instance=locked, step=step).first()
    if check is None:
        raise ValidationError(f"{locked.slug} has no provisioning checklist.")
    return check


def provisioning_check_tick(
    *, instance: Instance, step: str, actor: User, note: str = ""
) -> ProvisioningCheck:
    """Tick a box (not Terraform: that one is ticked by reading the VM), audited.

    Ticking a ticked box changes nothing and records nothing.
    """
    if step == ProvisioningStep.TERRAFORM:
        raise ValidationError(
            "Terraform applied is ticked by verifying the VM in GCP: use Verify instead."
        )
    with transaction.atomic():
        check = _locked_check(instance, step)
        if check.ticked:
            return check
        check.ticked_by, check.ticked_at, check.note = actor, timezone.now(), note.strip()[:255]
        check.save(update_fields=["ticked_by", "ticked_at", "note"])
        audit_record(
            action="instance.provisioning_check_ticked",
            actor=actor,
            obj=instance,
            after={"step": step, "note": check.note},
        )
    return check


def provisioning_check_untick(
    *, instance: Instance, step: str, actor: User, reason: str
) -> ProvisioningCheck:
    """Clear a ticked box, with a reason (audited with who had ticked it and when)."""
    reason = _required_reason(reason)
    with transaction.atomic():
        check = _locked_check(instance, step)
        if not check.ticked:
            raise ValidationError(f"{check.get_step_display()} is not ticked.")
        before = {
            "step": step,
            "ticked_by": check.ticked_by.get_username() if check.ticked_by else None,
            "ticked_at": check.ticked_at.isoformat() if check.ticked_at else None,
            "operation": check.verified_by_operation_id,
        }
        check.ticked_by = None
        check.ticked_at = None
        check.note = ""
        check.verified_by_operation = None
        check.save(update_fields=["ticked_by", "ticked_at", "note", "verified_by_operation"])
        audit_record(
            action="instance.provisioning_check_unticked",
            actor=actor,
            obj=instance,
            before=before,
            after={"step": step, "reason": reason},
        )
    return check


def provisioning_terraform_verify(
    *, instance: Instance, actor: User, idempotency_key: str = ""
) -> tuple[Operation, bool]:
    """Ask for the operation that reads the VM from GCP and ticks "Terraform applied" if it
    exists and runs; the one under way if asked twice."""
    instance.refresh_from_db(fields=["state"])
    if instance.state != LifecycleState.PROVISIONING:
        raise ValidationError(
            f"{instance.slug} is {instance.get_state_display().lower()}, not provisioning."
        )
    return operation_create(
        kind=OperationKind.PROVISION_VERIFY,
        actor=actor,
        instance=instance,
        params={"step": ProvisioningStep.TERRAFORM},
        idempotency_key=idempotency_key,
    )


def provisioning_terraform_record(*, operation: Operation, vm_detail: str) -> bool:
    """Tick "Terraform applied" for the operation that saw the VM running; False when the
    instance no longer provisions or the box was ticked already (nothing recorded)."""
    instance = operation.instance
    assert instance is not None  # a provision_verify operation always has its instance
    actor = operation.actor
    if actor is None:
        raise ValidationError("The verification has no person to record as ticking the box.")
    with transaction.atomic():
        try:
            check = _locked_check(instance, ProvisioningStep.TERRAFORM)
        except ValidationError:
            return False
        if check.ticked:
            return False
        check.ticked_by, check.ticked_at = actor, timezone.now()
        check.verified_by_operation = operation
        check.note = vm_detail[:255]
        check.save(update_fields=["ticked_by", "ticked_at", "verified_by_operation", "note"])
        audit_record(
            action="instance.provisioning_check_ticked",
            actor=actor,
            obj=instance,
            after={
                "step": ProvisioningStep.TERRAFORM,
                "note": check.note,
                "operation": operation.pk,
            },
        )
    return True


def provisioning_complete(*, instance_id: int) -> bool:
    """Every box of the instance's checklist is ticked (and it has one)."""
    checks = ProvisioningCheck.objects.filter(instance_id=instance_id)
    return (
        checks.count() == len(ProvisioningStep)
        and not checks.filter(ticked_at__isnull=True).exists()
    )


def provisioning_probe_record(
    *, instance_id: int, ok: bool, probed_at: dt.datetime, error: str = ""
) -> bool:
    """What the health sweep saw of a provisioning instance's ``/healthz``; True if this
    probe moved it to ACTIVE (healthy with the checklist complete).

    Under the instance's row lock and conditional on it still provisioning, so of two
    sweeps at once exactly one moves it and audits it; a trial's end date is set then
    (``TRIAL_DAYS`` after going live) unless someone set one already.
    """
    with transaction.atomic():
        instance = (
            Instance.objects.select_for_update()
            .filter(pk=instance_id, state=LifecycleState.PROVISIONING)
            .first()
        )
        if instance is None:
            return False
        InstanceProvisioning.objects.filter(instance_id=instance_id).update(
            healthz_checked_at=probed_at, healthz_ok=ok, healthz_error=error[:255]
        )
        if not ok or not provisioning_complete(instance_id=instance_id):
            return False
        instance.state = LifecycleState.ACTIVE
        instance.went_live_at = probed_at
        fields = ["state", "went_live_at", "updated_at"]
        if instance.kind == InstanceKind.TRIAL and instance.trial_ends_on is None:
            instance.trial_ends_on = trial_default_end(went_live_at=probed_at)
            fields.append("trial_ends_on")
        instance.save(update_fields=fields)
        audit_record(
            action="instance.went_live",
            obj=instance,
            actor_label="health-sweep",
            before={"state": LifecycleState.PROVISIONING},
            after={
                "state": LifecycleState.ACTIVE,
                "went_live_at": probed_at.isoformat(),
                "trial_ends_on": instance.trial_ends_on.isoformat()
                if instance.trial_ends_on
                else None,
            },
        )
    logger.info("%s answered /healthz with its checklist complete: active", instance.slug)
    return True


def trial_default_end(*, went_live_at: dt.datetime) -> dt.date:
    """A trial ends ``TRIAL_DAYS`` calendar days after it went live (UTC date)."""
    return (went_live_at.astimezone(dt.UTC) + dt.timedelta(days=TRIAL_DAYS)).date()
