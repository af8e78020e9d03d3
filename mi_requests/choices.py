"""Choice sets of the requests app."""

from django.db import models


class RequestKind(models.TextChoices):
    """What a request asks for. The first four are the seed's request types."""

    NEW_INSTANCE = "new_instance", "New instance"
    SUSPENSION = "suspension", "Suspension"
    RESUME = "resume", "Resume"
    TEARDOWN = "teardown", "Teardown"
    FEATURE = "feature", "Feature request"
    TRIAL_EXTENSION = "trial_extension", "Trial extension"


class RequestState(models.TextChoices):
    """Where a request stands (the transitions are in :mod:`mi_requests.workflow`)."""

    SUBMITTED = "submitted", "Submitted"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    APPEALED = "appealed", "Appealed"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING = "waiting", "Waiting on requester"
    DONE = "done", "Done"
    WITHDRAWN = "withdrawn", "Withdrawn"


# Still someone's work (the DevOps queue lists these); the others are final.
OPEN_STATES = (
    RequestState.SUBMITTED,
    RequestState.ACKNOWLEDGED,
    RequestState.APPROVED,
    RequestState.APPEALED,
    RequestState.IN_PROGRESS,
    RequestState.WAITING,
)
CLOSED_STATES = (RequestState.DENIED, RequestState.DONE, RequestState.WITHDRAWN)

# Kinds a manager approves; a feature request is answered and worked on without approval.
APPROVED_KINDS = frozenset(
    {
        RequestKind.NEW_INSTANCE,
        RequestKind.SUSPENSION,
        RequestKind.RESUME,
        RequestKind.TEARDOWN,
        RequestKind.TRIAL_EXTENSION,
    }
)
# Kinds with a resolution clock (15 working days from approval); feature requests have
# only the response clock (the seed: "dependent on the request").
RESOLUTION_KINDS = APPROVED_KINDS
# Kinds about one existing instance.
INSTANCE_KINDS = frozenset(
    {
        RequestKind.SUSPENSION,
        RequestKind.RESUME,
        RequestKind.TEARDOWN,
        RequestKind.TRIAL_EXTENSION,
    }
)
# Kinds DevOps executes through a lifecycle operation.
OPERATION_KINDS = frozenset({RequestKind.SUSPENSION, RequestKind.RESUME, RequestKind.TEARDOWN})
# Kinds that end on their own: with their operation, or (a new instance) when provisioning
# saw it go live. The others DevOps mark done by hand.
SELF_ENDING_KINDS = OPERATION_KINDS | {RequestKind.NEW_INSTANCE}


class ApprovalPurpose(models.TextChoices):
    """Why an approval request was filed for a request: the first decision, or the appeal."""

    APPROVAL = "approval", "Approval"
    APPEAL = "appeal", "Appeal"


class CustomerChoice(models.TextChoices):
    EXISTING = "existing", "An existing customer"
    NEW = "new", "A new customer"


class SlaLevel(models.TextChoices):
    """An SLA alert: a warning to the handler, or a page at breach."""

    RESOLUTION_50 = "resolution_50", "50 % of the resolution time"
    RESOLUTION_75 = "resolution_75", "75 % of the resolution time"
    RESOLUTION_BREACH = "resolution_breach", "Resolution time breached"
    RESPONSE_BREACH = "response_breach", "Response time breached"
