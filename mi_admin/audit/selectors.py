"""Reading the audit trail: the filtered list and the chain check."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from mi_admin.audit.chain import GENESIS, event_hash
from mi_admin.audit.models import AuditEvent


def audit_event_list() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.order_by("-id")


@dataclass(frozen=True)
class BrokenLink:
    event_id: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _events_in_order(chunk_size: int) -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size)


def audit_chain_verify(*, chunk_size: int = 2000) -> ChainReport:
    """Walk the chain from the first event and name the first link that does not hold.

    A changed row no longer matches its own hash; a removed or inserted row breaks the
    ``prev_hash`` link of the row after it.
    """
    expected_prev = GENESIS
    checked = 0
    for event in _events_in_order(chunk_size):
        if event.prev_hash != expected_prev:
            return ChainReport(
                checked, BrokenLink(event.id, "previous hash does not match the row before it")
            )
        recomputed = event_hash(
            prev_hash=event.prev_hash,
            created_at=event.created_at,
            actor_id=event.actor_id,
            actor_label=event.actor_label,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            object_repr=event.object_repr,
            before=event.before,
            after=event.after,
            ip=event.ip,
            user_agent=event.user_agent,
            request_id=event.request_id,
        )
        if recomputed != event.hash:
            return ChainReport(checked, BrokenLink(event.id, "content does not match its hash"))
        expected_prev = event.hash
        checked += 1
    return ChainReport(checked, None)
