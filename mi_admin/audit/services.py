"""Writing the audit trail. Call :func:`audit_record` inside the transaction of the change,
so the change and its record commit or roll back together."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Max
from django.forms.models import model_to_dict
from django.utils import timezone

from mi_admin.audit import context
from mi_admin.audit.chain import GENESIS, canonical_ip, event_hash, json_safe, stored_form
from mi_admin.audit.checkpoints import checkpoint_claim
from mi_admin.audit.models import AuditCheckpoint, AuditEvent, FailureWindow

logger = logging.getLogger(__name__)
checkpoint_logger = logging.getLogger("mi_admin.audit.checkpoint")

# Any constant works: it names the one PostgreSQL advisory lock that serialises appends.
_CHAIN_LOCK_KEY = 0x4D4941554449  # "MIAUDI"

# Unauthenticated callers choose these texts (usernames, provider error descriptions): each
# value kept from a failure is cut to this many characters.
FAILURE_TEXT_LIMIT = 200
FAILURE_WINDOW = timedelta(minutes=1)


def _lock_chain() -> None:
    # Two writers reading the same "last hash" would fork the chain. On PostgreSQL an
    # advisory lock held to the end of the transaction orders the appends (and so ids
    # follow commit order, which checkpoints rely on); SQLite runs IMMEDIATE transactions
    # (settings), which already hold the database's write lock.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


def model_snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """A JSON-safe picture of a model instance for ``before``/``after``."""
    data = model_to_dict(instance, fields=fields)
    snapshot: dict[str, Any] = json_safe(data)
    return snapshot


def audit_record(
    *,
    action: str,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_label: str = "",
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event to the trail and return it.

    Every value is first put in the form the database stores (:func:`stored_form`), so
    the hash written is the hash ``audit_verify`` recomputes from the row.
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)
    actor_id: int | None = None
    if actor is not None and actor.is_authenticated:
        actor_id = actor.pk
        actor_label = actor_label or actor.get_username()
    ctx = context.current()
    if ctx.via:
        actor_label = f"{actor_label or 'system'} [{ctx.via}]"
    fields = stored_form(
        created_at=at or timezone.now(),
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        before=before,
        after=after,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        request_id=ctx.request_id,
    )
    with transaction.atomic():
        _lock_chain()
        prev_hash = (
            AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
        )
        event = AuditEvent.objects.create(
            prev_hash=prev_hash, hash=event_hash(prev_hash=prev_hash, **fields), **fields
        )
    logger.info(
        "audit %s by %s on %s:%s",
        fields["action"],
        fields["actor_label"] or "system",
        fields["object_type"],
        fields["object_id"],
    )
    return event


def audit_checkpoint_record(*, reason: AuditCheckpoint.Reason) -> AuditCheckpoint | None:
    """Sign and store the trail's current length; log the same line. None if it is empty.

    Safe to run twice: a second checkpoint of the same state is one more witness.
    """
    with transaction.atomic():
        _lock_chain()  # no append between reading the count and the last row
        totals = AuditEvent.objects.aggregate(last_id=Max("id"), count=models.Count("id"))
        if totals["last_id"] is None:
            return None
        last_hash = AuditEvent.objects.values_list("hash", flat=True).get(id=totals["last_id"])
        claim = checkpoint_claim(totals["last_id"], last_hash, totals["count"])
        checkpoint = AuditCheckpoint.objects.create(
            created_at=timezone.now(),
            last_event_id=claim.last_id,
            last_hash=claim.last_hash,
            event_count=claim.count,
            reason=reason,
            signature=claim.signature,
        )
    # Stable prefix, one line: the log is the copy outside the database.
    checkpoint_logger.info("%s", claim.log_line())
    return checkpoint


def _capped(values: dict[str, Any]) -> dict[str, str]:
    return {str(k)[:64]: str(v)[:FAILURE_TEXT_LIMIT] for k, v in values.items() if v}


def audit_record_failure(*, action: str, actor_label: str = "", details: dict[str, Any]) -> None:
    """Record a failure an unauthenticated caller can trigger (failed login, OIDC error).

    Folds repeats: the first failure per (action, source address) in a minute becomes an
    event at once; the ones after it in that minute are only counted, and
    :func:`audit_failures_fold` writes one summary event with the count when the minute is
    over. Stored text is capped at :data:`FAILURE_TEXT_LIMIT` characters per value.
    """
    now = timezone.now()
    source = canonical_ip(context.current().ip) or ""
    sample = _capped(details)
    label = actor_label[:FAILURE_TEXT_LIMIT]
    # A window past its minute is summarised first, so this failure opens a new one.
    audit_failures_fold(now=now, action=action, source=source)
    with transaction.atomic():
        window = (
            FailureWindow.objects.select_for_update().filter(action=action, source=source).first()
        )
        if window is not None:
            FailureWindow.objects.filter(id=window.id).update(
                count=models.F("count") + 1,
                last_at=now,
                sample={"actor_label": label, **sample},
            )
            return
        try:
            with transaction.atomic():
                FailureWindow.objects.create(
                    action=action, source=source, started_at=now, last_at=now
                )
        except IntegrityError:
            # Another request from the same source opened the window a moment ago.
            FailureWindow.objects.filter(action=action, source=source).update(
                count=models.F("count") + 1, last_at=now, sample={"actor_label": label, **sample}
            )
            return
        audit_record(action=action, actor_label=label, after=sample or None, at=now)


def audit_failures_fold(
    *, now: datetime | None = None, action: str | None = None, source: str | None = None
) -> int:
    """Close every failure window older than a minute; one summary event for each that saw
    repeats. Returns the number of summary events written. Safe to run twice (and
    concurrently): each window is removed under a row lock, in the summary's transaction."""
    now = now or timezone.now()
    windows = FailureWindow.objects.filter(started_at__lte=now - FAILURE_WINDOW)
    if action is not None:
        windows = windows.filter(action=action, source=source or "")
    written = 0
    for window_id in list(windows.values_list("id", flat=True)):
        with transaction.atomic():
            window = (
                FailureWindow.objects.select_for_update(skip_locked=True)
                .filter(id=window_id)
                .first()
            )
            if window is None:
                continue
            if window.count > 1:
                sample = dict(window.sample or {})
                label = str(sample.pop("actor_label", ""))
                audit_record(
                    action=f"{window.action}.repeated",
                    actor_label=label,
                    after={
                        "repeated": window.count - 1,
                        "source": window.source,
                        "from": window.started_at.isoformat(),
                        "until": window.last_at.isoformat(),
                        "last": sample,
                    },
                    at=now,
                )
                written += 1
            # The counter's job is done once its count is in the trail.
            window.delete()
    return written
