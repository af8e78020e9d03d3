"""Writing the audit trail. Call :func:`audit_record` inside the transaction of the change,
so the change and its record commit or roll back together."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, models, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from mi_admin.audit import context
from mi_admin.audit.chain import GENESIS, event_hash, json_safe
from mi_admin.audit.models import AuditEvent

logger = logging.getLogger(__name__)

# Any constant works: it names the one PostgreSQL advisory lock that serialises appends.
_CHAIN_LOCK_KEY = 0x4D4941554449  # "MIAUDI"


def _lock_chain() -> None:
    # Two writers reading the same "last hash" would fork the chain. On PostgreSQL an
    # advisory lock held to the end of the transaction orders the appends; SQLite runs
    # IMMEDIATE transactions (settings), which already hold the database's write lock.
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
) -> AuditEvent:
    """Append one event to the trail and return it."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:255]
    actor_id: int | None = None
    if actor is not None and actor.is_authenticated:
        actor_id = actor.pk
        actor_label = actor_label or actor.get_username()
    ctx = context.current()
    fields: dict[str, Any] = {
        "created_at": timezone.now(),
        "actor_id": actor_id,
        "actor_label": actor_label[:255],
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "object_repr": object_repr[:255],
        "before": json_safe(before),
        "after": json_safe(after),
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
        "request_id": ctx.request_id,
    }
    with transaction.atomic():
        _lock_chain()
        prev_hash = (
            AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
        )
        event = AuditEvent.objects.create(
            prev_hash=prev_hash, hash=event_hash(prev_hash=prev_hash, **fields), **fields
        )
    logger.info("audit %s by %s on %s:%s", action, actor_label or "system", object_type, object_id)
    return event
