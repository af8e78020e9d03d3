"""Changes made in Django admin go through ModelAdmin, not our services: each LogEntry that
admin writes is copied into the audit trail, so no admin change escapes it."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db.models.signals import post_save
from django.dispatch import receiver

from mi_admin.audit.services import audit_record

_ADMIN_ACTIONS = {1: "admin.add", 2: "admin.change", 3: "admin.delete"}


@receiver(post_save, sender=LogEntry, dispatch_uid="audit_admin_log_entry")
def audit_admin_change(sender: type[LogEntry], instance: LogEntry, created: bool, **_: Any) -> None:
    if not created:
        return
    model = None
    if instance.content_type_id:
        model = ContentType.objects.get_for_id(instance.content_type_id).model_class()
    audit_record(
        action=_ADMIN_ACTIONS.get(instance.action_flag, "admin.other"),
        actor=cast(AbstractBaseUser, instance.user),
        object_type=model._meta.label_lower if model else "",
        object_id=instance.object_id or "",
        object_repr=instance.object_repr,
        after={"change": instance.get_change_message()},
    )
