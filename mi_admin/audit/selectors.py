"""Reading the audit trail: the filtered list and the chain check."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import QuerySet

from mi_admin.audit.chain import GENESIS, event_hash
from mi_admin.audit.checkpoints import CheckpointClaim
from mi_admin.audit.models import AuditCheckpoint, AuditEvent


def audit_event_list() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.order_by("-id")


@dataclass(frozen=True)
class BrokenLink:
    """One thing that does not hold; ``event_id`` is the row it was seen at (0: none)."""

    event_id: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    breaks: list[BrokenLink] = field(default_factory=list)
    checkpoints: int = 0

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def broken(self) -> BrokenLink | None:
        """The first break (the one before which everything verified)."""
        return self.breaks[0] if self.breaks else None


def _events_in_order(chunk_size: int) -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size)


def _row_hash(event: AuditEvent) -> str:
    return event_hash(
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


def _claims() -> Iterator[tuple[str, CheckpointClaim]]:
    rows = AuditCheckpoint.objects.order_by("id").values_list(
        "id", "last_event_id", "last_hash", "event_count", "signature"
    )
    for checkpoint_id, last_id, last_hash, count, signature in rows.iterator(chunk_size=2000):
        yield f"checkpoint {checkpoint_id}", CheckpointClaim(last_id, last_hash, count, signature)


def audit_chain_verify(
    *, chunk_size: int = 2000, expect: Iterable[CheckpointClaim] = ()
) -> ChainReport:
    """Walk the chain from the first event and name every link that does not hold, then
    hold the trail against every signed checkpoint (stored ones and ``expect``, e.g.
    copied from the application log).

    A changed row no longer matches its own hash; a removed or inserted row breaks the
    ``prev_hash`` link of the row after it. The chain alone cannot see rows missing at the
    end (tail deletion, TRUNCATE) nor a row changed with every later hash recomputed; a
    checkpoint signed with a key outside the database sees both: its last row is gone,
    the count of rows up to it differs, or that row's hash is not the one signed.
    """
    claims = [*_claims(), *(("expected checkpoint", claim) for claim in expect)]
    # Per id a checkpoint names: its hash as stored, and how many rows up to it.
    wanted = {claim.last_id for _, claim in claims}
    seen: dict[int, tuple[str, int]] = {}
    breaks: list[BrokenLink] = []
    expected_prev = GENESIS
    checked = 0
    for event in _events_in_order(chunk_size):
        if event.prev_hash != expected_prev:
            breaks.append(BrokenLink(event.id, "previous hash does not match the row before it"))
        if _row_hash(event) != event.hash:
            breaks.append(BrokenLink(event.id, "content does not match its hash"))
        # The next link is judged against what is stored, so one altered row is one break
        # and the rows after it are still checked.
        expected_prev = event.hash
        checked += 1
        if event.id in wanted:
            seen[event.id] = (event.hash, checked)

    for name, claim in claims:
        breaks.extend(_check_claim(name, claim, seen, checked))
    return ChainReport(checked, breaks, checkpoints=len(claims))


def _check_claim(
    name: str, claim: CheckpointClaim, seen: dict[int, tuple[str, int]], total: int
) -> list[BrokenLink]:
    if not claim.signature_valid():
        return [BrokenLink(claim.last_id, f"{name}: signature invalid (forged or another key)")]
    if claim.last_id not in seen:
        return [
            BrokenLink(
                claim.last_id,
                f"{name}: event {claim.last_id} is missing (the trail was truncated or its "
                f"tail deleted; {total} events left, {claim.count} were signed up to it)",
            )
        ]
    stored_hash, count_up_to = seen[claim.last_id]
    found = []
    if stored_hash != claim.last_hash:
        found.append(
            BrokenLink(
                claim.last_id,
                f"{name}: hash of event {claim.last_id} differs from the signed one "
                "(history before it was rewritten and re-hashed)",
            )
        )
    if count_up_to != claim.count:
        found.append(
            BrokenLink(
                claim.last_id,
                f"{name}: {count_up_to} events up to {claim.last_id}, {claim.count} signed",
            )
        )
    return found
