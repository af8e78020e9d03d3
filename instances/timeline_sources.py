"""The instances app's events on the instance timeline (registered by
``InstancesConfig.ready``): operations and their outcome, version changes, and the rest of
the audit trail about the instance."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.urls import reverse

from instances.choices import OperationKind
from instances.models import Instance, Operation
from instances.timeline import TimelineEvent, newest_events, register_timeline_source
from mi_admin.audit.models import AuditEvent

INSTANCE_TYPE = Instance._meta.label_lower
VERSION_ACTIONS = ("instance.version_upgraded", "instance.version_rolled_back")


def _operation_event(operation: Operation) -> TimelineEvent:
    return TimelineEvent(
        at=operation.at,  # type: ignore[attr-defined]  # annotated by operation_events
        kind="operation",
        title=f"{operation.get_kind_display()} {operation.get_state_display().lower()}",
        detail=operation.error[:200],
        actor=operation.actor.get_username() if operation.actor else "system",
        outcome=operation.state,
        url=reverse("instances:operation_detail", args=[operation.pk]),
    )


def operation_events(
    instance: Instance, before: datetime | None, limit: int
) -> list[TimelineEvent]:
    # Probes run every few minutes; the health source tells what they changed.
    operations = (
        Operation.objects.filter(instance=instance)
        .exclude(kind=OperationKind.PROBE)
        .annotate(at=Coalesce("finished_at", "started_at", "created_at"))
        .select_related("actor")
    )
    return newest_events(operations, at="at", before=before, limit=limit, event=_operation_event)


def _audit(instance: Instance, before: datetime | None) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(object_type=INSTANCE_TYPE, object_id=str(instance.pk))
    if before is not None:
        events = events.filter(created_at__lt=before)
    return events.order_by("-created_at", "-id")


def _shown(value: object) -> str:
    return "—" if value in (None, "") else str(value)


def _describe(event: AuditEvent) -> str:
    after = event.after if isinstance(event.after, dict) else {}
    before = event.before if isinstance(event.before, dict) else {}
    parts = []
    for key in sorted(set(after) | set(before))[:4]:
        if before.get(key) != after.get(key):
            parts.append(f"{key}: {_shown(before.get(key))} → {_shown(after.get(key))}")
    return "; ".join(parts)[:255]


def _audit_event(event: AuditEvent, kind: str) -> TimelineEvent:
    return TimelineEvent(
        at=event.created_at,
        kind=kind,
        # "instance.owner_changed" → "Owner changed"; other apps' actions keep their app:
        # "health.incident.down.opened" → "Health incident down opened".
        title=event.action.removeprefix("instance.")
        .replace(".", " ")
        .replace("_", " ")
        .capitalize(),
        detail=_describe(event),
        actor=event.actor_label or "system",
    )


def version_events(instance: Instance, before: datetime | None, limit: int) -> list[TimelineEvent]:
    events = _audit(instance, before).filter(action__in=VERSION_ACTIONS)[:limit]
    return [_audit_event(event, "version") for event in events]


def audit_events(instance: Instance, before: datetime | None, limit: int) -> list[TimelineEvent]:
    events = _audit(instance, before).exclude(action__in=VERSION_ACTIONS)[:limit]
    return [_audit_event(event, "audit") for event in events]


def register() -> None:
    register_timeline_source("operation", operation_events, label="Operations", order=10)
    register_timeline_source("version", version_events, label="Version changes", order=20)
    register_timeline_source("audit", audit_events, label="Audit events", order=90)
