"""Incidents: open once per instance and cause, resolve once.

The sweep calls :func:`incidents_sync_down` with the states it just derived; the hourly
version check calls :func:`incidents_sync_version`. Opening or resolving an incident queues
the ``health.tasks.incident_deliver`` task once the transaction commits, which sends the
alerts (:mod:`health.services.deliveries`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from health.choices import DeliveryAction, HealthState, IncidentCause, IncidentState
from health.models import Incident, IncidentNote, InstanceHealth
from instances.choices import MONITORED_STATES
from instances.models import Instance
from mi_admin.audit.services import audit_record
from mi_admin.queue import task_enqueue

if TYPE_CHECKING:
    from mi_admin.accounts.models import User

logger = logging.getLogger(__name__)

NOTE_LIMIT = 4000


class IncidentError(Exception):
    """A person's change to an incident that cannot be made; the message says why."""


SYSTEM_ACTOR = "health-monitor"
Enqueue = Callable[[int, str], None]


INCIDENT_DELIVER_TASK = "health.tasks.incident_deliver"


def _enqueue_delivery(incident_id: int, action: str) -> None:
    # Opening or resolving an incident queues its delivery, by name (mi_admin.queue).
    task_enqueue(INCIDENT_DELIVER_TASK, incident_id, action)


def dedup_key(slug: str, cause: str) -> str:
    """The key that ties an incident's resolve to its trigger at every provider."""
    return f"mi-admin/{slug}/{cause}"


def incident_open(
    *,
    instance: Instance,
    cause: IncidentCause,
    summary: str,
    details: dict[str, Any],
    now: datetime,
    enqueue: Enqueue = _enqueue_delivery,
) -> Incident | None:
    """Open an incident unless one is open for the same instance and cause."""
    if Incident.objects.filter(instance=instance, cause=cause, state=IncidentState.OPEN).exists():
        return None
    incident = Incident.objects.create(
        instance=instance,
        cause=cause,
        dedup_key=dedup_key(instance.slug, cause),
        summary=summary[:255],
        details=details,
        opened_at=now,
    )
    audit_record(
        action=f"health.incident.{cause}.opened",
        actor_label=SYSTEM_ACTOR,
        obj=instance,
        after={"incident": incident.pk, "summary": incident.summary},
    )
    transaction.on_commit(lambda: enqueue(incident.pk, DeliveryAction.TRIGGER))
    logger.info("incident %s opened: %s", incident.dedup_key, incident.summary)
    return incident


def incident_resolve(
    *, incident: Incident, reason: str, now: datetime, enqueue: Enqueue = _enqueue_delivery
) -> bool:
    """Resolve an open incident (False if it was resolved already) and queue the resolve."""
    updated = Incident.objects.filter(pk=incident.pk, state=IncidentState.OPEN).update(
        state=IncidentState.RESOLVED, resolved_at=now
    )
    if not updated:
        return False
    audit_record(
        action=f"health.incident.{incident.cause}.resolved",
        actor_label=SYSTEM_ACTOR,
        obj=incident.instance,
        after={"incident": incident.pk, "reason": reason},
    )
    transaction.on_commit(lambda: enqueue(incident.pk, DeliveryAction.RESOLVE))
    logger.info("incident %s resolved: %s", incident.dedup_key, reason)
    return True


@dataclass
class IncidentChanges:
    opened: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)


def _open_by_instance(cause: str) -> dict[int, Incident]:
    """The open incidents of one cause, by instance id (instances loaded)."""
    return {
        incident.instance_id: incident
        for incident in Incident.objects.select_related("instance").filter(
            cause=cause, state=IncidentState.OPEN
        )
    }


def incidents_sync_down(
    *,
    healths: Sequence[InstanceHealth],
    muted: set[int],
    now: datetime | None = None,
    enqueue: Enqueue = _enqueue_delivery,
) -> IncidentChanges:
    """Open a ``down`` incident for each down instance outside maintenance (``muted``)
    without one; resolve open ones whose instance answers again.

    Call inside the sweep's transaction; ``healths`` need ``instance`` loaded.
    """
    now = now or timezone.now()
    changes = IncidentChanges()
    open_by_instance = _open_by_instance(IncidentCause.DOWN)
    for health in healths:
        incident = open_by_instance.get(health.instance_id)
        if health.state == HealthState.DOWN and incident is None:
            if health.instance_id in muted:
                continue
            opened = incident_open(
                instance=health.instance,
                cause=IncidentCause.DOWN,
                summary=_down_summary(health),
                details=_down_details(health),
                now=now,
                enqueue=enqueue,
            )
            if opened is not None:
                changes.opened.append(opened)
        elif (
            incident is not None
            and health.state in (HealthState.HEALTHY, HealthState.DEGRADED)
            and incident_resolve(
                incident=incident,
                reason=f"instance is {health.state} again",
                now=now,
                enqueue=enqueue,
            )
        ):
            changes.resolved.append(incident)
    return changes


def incidents_resolve_inactive(
    *, now: datetime | None = None, enqueue: Enqueue = _enqueue_delivery
) -> list[Incident]:
    """Resolve every open incident of an instance no longer active (suspended, torn down):
    nobody probes it or holds it to the version SLA any more."""
    now = now or timezone.now()
    resolved = []
    with transaction.atomic():
        stale = Incident.objects.select_related("instance").filter(state=IncidentState.OPEN)
        for incident in stale.exclude(instance__state__in=MONITORED_STATES):
            reason = f"instance is {incident.instance.state}"
            if incident_resolve(incident=incident, reason=reason, now=now, enqueue=enqueue):
                resolved.append(incident)
    return resolved


def _down_summary(health: InstanceHealth) -> str:
    error = health.last_error or "no answer"
    return f"{health.instance.slug} is down: {error}"


def _down_details(health: InstanceHealth) -> dict[str, Any]:
    instance = health.instance
    return {
        "instance": instance.slug,
        "url": instance.url,
        "kind": instance.kind,
        "customer_id": instance.customer_id,
        "last_error": health.last_error,
        "consecutive_failures": health.consecutive_failures,
        "last_ok_at": health.last_ok_at.isoformat() if health.last_ok_at else None,
    }


def incidents_sync_version(
    *,
    breached: dict[int, dict[str, Any]],
    candidates: Iterable[Instance],
    now: datetime | None = None,
    enqueue: Enqueue = _enqueue_delivery,
) -> IncidentChanges:
    """Open a ``version_sla`` incident for each breached instance (id → details) among
    ``candidates`` (active, not in maintenance) without one; resolve every open one whose
    instance is no longer breached."""
    now = now or timezone.now()
    changes = IncidentChanges()
    open_by_instance = _open_by_instance(IncidentCause.VERSION_SLA)
    with transaction.atomic():
        for instance in candidates:
            details = breached.get(instance.pk)
            if details is None or instance.pk in open_by_instance:
                continue
            summary = (
                f"{instance.slug} runs {details['observed'] or 'an unknown version'}, "
                f"{details['text']} for {details['latest']}"
            )
            opened = incident_open(
                instance=instance,
                cause=IncidentCause.VERSION_SLA,
                summary=summary,
                details=details,
                now=now,
                enqueue=enqueue,
            )
            if opened is not None:
                changes.opened.append(opened)
        for instance_id, incident in open_by_instance.items():
            if instance_id not in breached and incident_resolve(
                incident=incident,
                reason="instance runs the newest release",
                now=now,
                enqueue=enqueue,
            ):
                changes.resolved.append(incident)
    return changes


def incident_acknowledge(
    *,
    incident: Incident,
    actor: User,
    now: datetime | None = None,
    enqueue: Enqueue = _enqueue_delivery,
) -> bool:
    """Acknowledge an open incident (someone is on it) and queue the acknowledgement to the
    alert channels. False when it was acknowledged already: nothing is recorded or sent
    twice. A resolved incident cannot be acknowledged."""
    now = now or timezone.now()
    with transaction.atomic():
        # The conditional update is the once-only guard against two people clicking at once.
        updated = Incident.objects.filter(
            pk=incident.pk, state=IncidentState.OPEN, acknowledged_at__isnull=True
        ).update(acknowledged_at=now, acknowledged_by=actor)
        if not updated:
            current = Incident.objects.get(pk=incident.pk)
            if current.state != IncidentState.OPEN:
                raise IncidentError("This incident is resolved; there is nothing to acknowledge.")
            return False
        audit_record(
            action="health.incident.acknowledged",
            actor=actor,
            obj=incident.instance,
            after={"incident": incident.pk, "dedup_key": incident.dedup_key},
        )
        transaction.on_commit(lambda: enqueue(incident.pk, DeliveryAction.ACKNOWLEDGE))
    logger.info("incident %s acknowledged by %s", incident.dedup_key, actor.get_username())
    return True


def incident_note_add(*, incident: Incident, actor: User, text: str) -> IncidentNote:
    """Add a person's note to an incident (open or resolved), audited."""
    text = text.strip()
    if not text:
        raise IncidentError("Write a note first.")
    if len(text) > NOTE_LIMIT:
        raise IncidentError(f"A note holds at most {NOTE_LIMIT} characters ({len(text)} given).")
    with transaction.atomic():
        note = IncidentNote.objects.create(incident=incident, author=actor, text=text)
        audit_record(
            action="health.incident.note_added",
            actor=actor,
            obj=incident.instance,
            after={"incident": incident.pk, "note": note.pk, "text": text[:200]},
        )
    return note
