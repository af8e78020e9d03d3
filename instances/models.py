"""The fleet: customers, their managed instances, releases, and background operations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce

from instances.choices import (
    ACTIVE_OPERATION_STATES,
    MUTATING_OPERATION_KINDS,
    Architecture,
    CodeHostAccess,
    DeletedResourceKind,
    Drift,
    InstanceKind,
    LifecycleState,
    NetworkAccess,
    OperationKind,
    OperationState,
    ProvisioningStep,
    ReleaseKind,
    Size,
    StepState,
    TrialNoticeKind,
    UpgradeRing,
)


class Customer(models.Model):
    """A customer or prospect; each has one isolated GCP project per instance."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    owner_ce = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
        verbose_name="owning CE",
    )
    region = models.CharField(max_length=32, blank=True, help_text="Sales region, e.g. AMER.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Instance(models.Model):
    """One managed instance: a single-tenant deployment in its own GCP project.

    The first block is what we intend (kind, architecture, where it lives, its lifecycle
    state); the ``vm_*`` block is what the last inventory sync read from GCP, and ``drift``
    is the difference between the two.
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="instances")
    slug = models.SlugField(max_length=63, unique=True)
    url = models.URLField(max_length=255)
    kind = models.CharField(max_length=16, choices=InstanceKind.choices, db_index=True)
    architecture = models.CharField(max_length=8, choices=Architecture.choices, db_index=True)
    size = models.CharField(max_length=8, choices=Size.choices, default=Size.SMALL)
    state = models.CharField(
        max_length=16,
        choices=LifecycleState.choices,
        default=LifecycleState.REQUESTED,
        db_index=True,
    )
    network_access = models.CharField(
        max_length=16, choices=NetworkAccess.choices, default=NetworkAccess.PUBLIC_SSO
    )
    allowed_cidrs = models.JSONField(default=list, blank=True)
    gcp_project = models.CharField(max_length=63)
    gcp_zone = models.CharField(max_length=63, default="us-central1-f")
    vm_name = models.CharField(max_length=63, default="default-red-instance")
    data_disk = models.CharField(max_length=63, blank=True)
    machine_type = models.CharField(max_length=63, default="n2-standard-8")
    upgrade_ring = models.CharField(
        max_length=8, choices=UpgradeRing.choices, default=UpgradeRing.GENERAL
    )
    desired_version = models.CharField(max_length=32, blank=True)
    observed_version = models.CharField(max_length=32, blank=True, db_index=True)

    vm_status = models.CharField(max_length=16, blank=True)
    vm_machine_type = models.CharField(max_length=63, blank=True)
    vm_internal_ip = models.GenericIPAddressField(null=True, blank=True)
    vm_external_ip = models.GenericIPAddressField(null=True, blank=True)
    vm_version = models.CharField(
        max_length=32, blank=True, help_text="The `sourcegraph-version` metadata on the VM."
    )
    last_synced_at = models.DateTimeField(null=True, blank=True)
    drift = models.CharField(max_length=16, choices=Drift.choices, blank=True, db_index=True)
    drift_detail = models.CharField(max_length=255, blank=True)
    management_access_opt_out = models.BooleanField(
        "customer opted out of management access",
        default=False,
        help_text="No access level can be granted on this instance while set.",
    )
    # Provisioning and trials (instances/services/provisioning.py, trials.py).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_instances",
        verbose_name="owning CE",
        help_text="Asked to decide before a trial ends; the customer's CE when empty.",
    )
    admin_contact = models.CharField(
        max_length=254, blank=True, help_text="Who receives the instance's admin account."
    )
    code_host_access = models.CharField(
        max_length=16, choices=CodeHostAccess.choices, default=CodeHostAccess.PUBLIC
    )
    went_live_at = models.DateTimeField(
        null=True, blank=True, help_text="When provisioning ended: its /healthz first answered."
    )
    trial_ends_on = models.DateField(null=True, blank=True, db_index=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer__name", "slug"]
        indexes = [models.Index(fields=["customer", "slug"])]

    def __str__(self) -> str:
        return self.slug


class Release(models.Model):
    """A product release. The newest one sets every instance's upgrade deadline."""

    version = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=16, choices=ReleaseKind.choices, default=ReleaseKind.MONTHLY)
    released_at = models.DateTimeField(db_index=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-released_at"]

    def __str__(self) -> str:
        return self.version


def _target() -> Coalesce:
    # A fleet-wide operation has no instance; 0 stands for "the fleet" so the unique indexes
    # below treat two fleet-wide operations as the same target (NULLs would be distinct).
    return Coalesce(F("instance"), Value(0))


class Operation(models.Model):
    """One background action on one instance (or the whole fleet, for a fleet sync).

    The row is the outbox: created by a service in the request's transaction, sent to the
    broker after commit (``dispatched_at``) and re-sent by the dispatcher if no worker ever
    claimed it. A worker claims it by taking a lease (``lease_owner``, ``lease_expires_at``)
    that it renews while it runs; a lapsed lease means the worker died, and the dispatcher
    sends the operation again so another worker resumes it from its recorded steps.
    ``next_retry_at`` / ``retry_count`` say when it next tries after a transient GCP error.
    """

    instance = models.ForeignKey(
        Instance, null=True, blank=True, on_delete=models.PROTECT, related_name="operations"
    )
    kind = models.CharField(max_length=16, choices=OperationKind.choices)
    state = models.CharField(
        max_length=16,
        choices=OperationState.choices,
        default=OperationState.PENDING,
        db_index=True,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="operations",
    )
    # What the operation acts on within its target when several may run there at once
    # (e.g. "access.grant:17"): part of the kind-and-target uniqueness, empty otherwise.
    subject = models.CharField(max_length=64, blank=True, default="")
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=128, unique=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was last sent to the broker (empty: not yet)."
    )
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    retrying_since = models.DateTimeField(
        null=True, blank=True, help_text="First transient error of the current run of errors."
    )
    # The fleet-wide upgrade slot (1..UPGRADE_CONCURRENCY) an upgrade holds while it is
    # pending or running; the unique index below lets no two active upgrades share one.
    upgrade_slot = models.PositiveSmallIntegerField(null=True, blank=True)
    waiting_for = models.CharField(
        max_length=255,
        blank=True,
        help_text="What a deferred operation waits for (e.g. a free upgrade slot).",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["instance", "-created_at"]),
            # The dispatcher's scan: only unfinished operations, a handful at any time.
            models.Index(
                fields=["dispatched_at"],
                name="operation_active_dispatch",
                condition=Q(state__in=ACTIVE_OPERATION_STATES),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                _target(),
                "kind",
                "subject",
                name="one_active_operation_per_kind_target_subject",
                condition=Q(state__in=ACTIVE_OPERATION_STATES),
                violation_error_message="An operation of this kind is already under way here.",
            ),
            models.UniqueConstraint(
                _target(),
                name="one_active_mutating_operation_per_target",
                condition=Q(state__in=ACTIVE_OPERATION_STATES, kind__in=MUTATING_OPERATION_KINDS),
                violation_error_message="Another change to this instance is already under way.",
            ),
            # At most UPGRADE_CONCURRENCY upgrades run fleet-wide: each holds one of the
            # numbered slots 1..N, and no two active operations may hold the same number.
            models.UniqueConstraint(
                fields=["upgrade_slot"],
                name="one_active_operation_per_upgrade_slot",
                condition=Q(state__in=ACTIVE_OPERATION_STATES, upgrade_slot__isnull=False),
                violation_error_message="This upgrade slot is taken.",
            ),
            models.CheckConstraint(
                condition=Q(upgrade_slot__isnull=True) | Q(upgrade_slot__gte=1),
                name="upgrade_slot_numbered_from_one",
            ),
        ]

    def __str__(self) -> str:
        target = self.instance.slug if self.instance_id and self.instance else "fleet"
        return f"{self.get_kind_display()} of {target} #{self.pk}"

    @property
    def waiting_for_retry(self) -> bool:
        """Waiting for its next try after a transient GCP error (no worker runs it now)."""
        return (
            self.state in ACTIVE_OPERATION_STATES
            and self.next_retry_at is not None
            and not self.lease_owner
        )


class OperationStep(models.Model):
    """One line of an operation's step log, shown live on the operation page."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    state = models.CharField(max_length=16, choices=StepState.choices, default=StepState.RUNNING)
    detail = models.TextField(blank=True)
    # What a finished step produced, so a resumed operation skips the step and reuses it.
    output = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["operation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "position"], name="unique_step_position")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class InstanceProvisioning(models.Model):
    """Why and by whom an instance is being provisioned: the start of its checklist.

    ``reference`` is the caller's handle (``"request:<pk>"`` from an approved request):
    unique when set, so the same request provisions one instance however often it asks.
    """

    instance = models.OneToOneField(Instance, on_delete=models.PROTECT, related_name="provisioning")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    reference = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    # What the health sweep last saw of /healthz while the instance was provisioning.
    healthz_checked_at = models.DateTimeField(null=True, blank=True)
    healthz_ok = models.BooleanField(null=True, blank=True)
    healthz_error = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reference"],
                condition=~Q(reference=""),
                name="one_provisioning_per_reference",
                violation_error_message="This reference already provisions an instance.",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="provisioning_has_reason"),
        ]

    def __str__(self) -> str:
        return f"provisioning of {self.instance_id}"


class ProvisioningCheck(models.Model):
    """One box of an instance's provisioning checklist; ticked = who and when.

    One row per step and instance (a unique constraint). "Terraform applied" can only be
    ticked with the operation that read the VM running in GCP (a check constraint).
    """

    instance = models.ForeignKey(
        Instance, on_delete=models.CASCADE, related_name="provisioning_checks"
    )
    step = models.CharField(max_length=16, choices=ProvisioningStep.choices)
    ticked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    ticked_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=255, blank=True)
    verified_by_operation = models.ForeignKey(
        Operation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["instance", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "step"], name="one_provisioning_check_per_step"
            ),
            models.CheckConstraint(
                condition=Q(ticked_at__isnull=True, ticked_by__isnull=True)
                | Q(ticked_at__isnull=False, ticked_by__isnull=False),
                name="provisioning_check_ticked_by_someone",
            ),
            models.CheckConstraint(
                condition=~Q(step=ProvisioningStep.TERRAFORM)
                | Q(ticked_at__isnull=True)
                | Q(verified_by_operation__isnull=False),
                name="terraform_ticked_only_when_verified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instance_id} {self.step}: {'ticked' if self.ticked_at else 'open'}"

    @property
    def ticked(self) -> bool:
        return self.ticked_at is not None


class TrialNotice(models.Model):
    """A notice about a trial's end, sent once: the unique row is the "once".

    One row per instance, kind and end date (extending the trial makes a new end date, so
    the CE is asked again about the new one). ``channels_sent`` lists the alert channels
    that took it, so a retry sends only to the others.
    """

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="trial_notices")
    kind = models.CharField(max_length=16, choices=TrialNoticeKind.choices)
    trial_ends_on = models.DateField()
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    channels_sent = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "kind", "trial_ends_on"], name="one_trial_notice_per_end_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.instance_id} {self.kind} ({self.trial_ends_on})"


class DeletionRecord(models.Model):
    """The evidence of one teardown, kept for good: what was deleted from GCP, when, by
    whom, approved by whom, and the approval's reference.

    Written only by the teardown runner, insert-only: the database refuses UPDATE and DELETE
    on it and on its resources (migration ``deletion_record_append_only``), nothing that
    points at it may be deleted (PROTECT), and the admin shows it read-only.
    """

    instance = models.ForeignKey(
        Instance, on_delete=models.PROTECT, related_name="deletion_records"
    )
    operation = models.OneToOneField(
        Operation, on_delete=models.PROTECT, related_name="deletion_record"
    )
    # Copies, so the record reads the same whatever later happens to the rows it names.
    instance_slug = models.SlugField(max_length=63)
    customer_name = models.CharField(max_length=200)
    gcp_project = models.CharField(max_length=63)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_by_label = models.CharField(max_length=254)
    approved_by = models.JSONField(
        help_text="Who approved, as they were: [{id, username, name}], never empty."
    )
    reference = models.CharField(max_length=64, help_text="The approval's reference.")
    reason = models.TextField()
    created_at = models.DateTimeField(
        help_text="When deleting began (the countdown was over by then)."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reference=""), name="deletion_record_has_reference"
            ),
            models.CheckConstraint(
                condition=~Q(approved_by=[]), name="deletion_record_has_approvers"
            ),
        ]

    def __str__(self) -> str:
        return f"Deletion record of {self.instance_slug} (#{self.pk})"


class DeletedResource(models.Model):
    """One GCP resource a teardown deleted, with its GCP id and self-link."""

    record = models.ForeignKey(DeletionRecord, on_delete=models.PROTECT, related_name="resources")
    kind = models.CharField(max_length=16, choices=DeletedResourceKind.choices)
    name = models.CharField(max_length=63)
    gcp_id = models.CharField(max_length=32, blank=True)
    self_link = models.CharField(max_length=500, blank=True)
    # "vm" for a boot disk GCP deleted with its VM (auto-delete); empty when deleted alone.
    deleted_with = models.CharField(max_length=16, blank=True)
    gcp_operation = models.CharField(max_length=100, blank=True)
    deleted_at = models.DateTimeField()

    class Meta:
        ordering = ["record", "deleted_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["record", "kind", "name"], name="one_deleted_resource_per_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"
