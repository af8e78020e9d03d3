"""Choice sets of the instances app."""

from django.db import models


class InstanceKind(models.TextChoices):
    INTERNAL = "internal", "Internal (test)"
    TRIAL = "trial", "Trial"
    PRODUCTION = "production", "Production"


class Architecture(models.TextChoices):
    V1_0 = "v1.0", "v1.0 (VM + data disk)"
    V1_1 = "v1.1", "v1.1 (VM + Cloud SQL)"


class LifecycleState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    PROVISIONING = "provisioning", "Provisioning"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    TORN_DOWN = "torn_down", "Torn down"


# THE answer to "is this instance watched": probed by the health sweep, held to uptime and
# version SLAs, paged on, planned into rollouts. A suspended (or torn-down, or not yet live)
# instance is none of these; every reader asks this tuple, so the lifecycle state is the one
# switch (the suspend and resume operations flip it).
MONITORED_STATES = (LifecycleState.ACTIVE,)


class NetworkAccess(models.TextChoices):
    PUBLIC_SSO = "public_sso", "Public, behind the customer's SSO"
    ALLOWLIST = "allowlist", "IP allowlist"


class UpgradeRing(models.TextChoices):
    TEST = "test", "Test"
    CANARY = "canary", "Canary"
    GENERAL = "general", "General"


class Size(models.TextChoices):
    SMALL = "small", "Small"
    MEDIUM = "medium", "Medium"
    LARGE = "large", "Large"


class ReleaseKind(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    PATCH = "patch", "Patch"
    EMERGENCY = "emergency", "Emergency"


class Drift(models.TextChoices):
    """How the VM GCP reports differs from what the inventory says it should be."""

    NONE = "", "None"
    VM_MISSING = "vm_missing", "VM missing"
    VM_STOPPED = "vm_stopped", "VM stopped while the instance is active"
    VM_RUNNING = "vm_running", "VM running while the instance is suspended"
    SYNC_FAILED = "sync_failed", "Could not read the VM"


class OperationKind(models.TextChoices):
    UPGRADE = "upgrade", "Upgrade"
    ROLLBACK = "rollback", "Roll back"
    SUSPEND = "suspend", "Suspend"
    RESUME = "resume", "Resume"
    TEARDOWN = "teardown", "Teardown"
    GRANT = "grant", "Grant access"
    REVOKE = "revoke", "Revoke access"
    SYNC = "sync", "Inventory sync"
    PROBE = "probe", "Health probe"
    PROVISION_VERIFY = "provision_verify", "Verify the provisioned VM"


class OperationState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_OPERATION_STATES = frozenset(
    {OperationState.SUCCEEDED, OperationState.FAILED, OperationState.CANCELLED}
)
# An operation in one of these states holds its target: the partial unique indexes on
# Operation allow one per kind and target, and one mutating operation per target.
ACTIVE_OPERATION_STATES = (OperationState.PENDING, OperationState.RUNNING)
# Kinds that change the VM itself; two of them on one instance at once would fight.
MUTATING_OPERATION_KINDS = (
    OperationKind.UPGRADE,
    OperationKind.ROLLBACK,
    OperationKind.SUSPEND,
    OperationKind.RESUME,
    OperationKind.TEARDOWN,
)


class DeletedResourceKind(models.TextChoices):
    VM = "vm", "VM"
    DISK = "disk", "Disk"
    SNAPSHOT = "snapshot", "Snapshot"


class StepState(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class CodeHostAccess(models.TextChoices):
    """How the instance reaches the customer's code host."""

    PUBLIC = "public", "Code host reachable publicly"
    ALLOWLIST = "allowlist", "Code host allowlists our static IP"


class ProvisioningStep(models.TextChoices):
    """The new-instance checklist, in the order DevOps works through it."""

    TERRAFORM = "terraform", "Terraform applied"
    DNS = "dns", "DNS"
    SSO = "sso", "SSO configured"
    ADMIN_HANDOVER = "admin_handover", "Admin account handed over"


class TrialNoticeKind(models.TextChoices):
    """What a trial notice is: the owning CE asked to decide, or DevOps paged at expiry."""

    DECISION_ASKED = "decision_asked", "Owning CE asked to decide"
    EXPIRED = "expired", "Expired without a decision: DevOps paged"
