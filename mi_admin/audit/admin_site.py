"""Every Django admin action goes into the audit trail, with before and after values.

Admin writes through ModelAdmin, not our services. :class:`AuditedAdminSite` is the
project's default admin site (``apps.AuditedAdminConfig`` replaces ``django.contrib.admin`` in
INSTALLED_APPS), and it gives every ModelAdmin registered on it, ours and third-party ones
(auth, celery beat, allauth), the :class:`AuditedModelAdminMixin`:

- add: ``admin.add`` with the new object's values;
- change: ``admin.change`` with the old and new value of each changed field (many-to-many
  included), read from the database before the save and after the related saves;
- delete, one or "delete selected": one ``admin.delete`` per object with its values,
  written in the deletion's transaction (Django logs bulk deletions with ``bulk_create``,
  which sends no signal, so a LogEntry receiver never saw them);
- any other action (e.g. celery beat's "enable"): ``admin.action`` per changed object.

Secrets (password hashes, TOTP secrets, tokens) are replaced by a marker saying whether
they changed.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from mi_admin.audit.chain import json_safe
from mi_admin.audit.services import audit_record

_SECRET_FIELD = re.compile(r"password|secret|token|api_key|private_key|otp", re.IGNORECASE)
# allauth's Authenticator keeps the TOTP secret and recovery codes in ``data``.
_SECRET_FIELDS_BY_MODEL = {"mfa.authenticator": {"data"}}
REDACTED = "[redacted]"
# An action over "select all" of a big table is recorded object by object up to this many.
ACTION_SNAPSHOT_LIMIT = 500


def _is_secret(model: type[models.Model], name: str) -> bool:
    return bool(_SECRET_FIELD.search(name)) or name in _SECRET_FIELDS_BY_MODEL.get(
        model._meta.label_lower, set()
    )


class AuditedModelAdminMixin(admin.ModelAdmin[Any]):
    """Audits what this ModelAdmin does; see the module docstring."""

    def _audit_key(self, obj: models.Model) -> str:
        return f"{obj._meta.label_lower}:{obj.pk}"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            stash = request.__dict__.setdefault("_audit_before", {})
            stash[self._audit_key(obj)] = _raw_from_db(obj)
        super().save_model(request, obj, form, change)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_addition(request, obj, message)
        audit_record(
            action="admin.add", actor=request.user, obj=obj, after=_redacted(obj, _raw(obj))
        )
        return entry

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_change(request, obj, message)
        raw_before = request.__dict__.get("_audit_before", {}).pop(self._audit_key(obj), None)
        raw_after = _raw_from_db(obj)
        old, new = _diff(obj, raw_before, raw_after)
        audit_record(
            action="admin.change",
            actor=request.user,
            obj=obj,
            before=old,
            after={**new, "_message": entry.get_change_message()} if entry else new,
        )
        return entry

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        # Called before the objects are deleted, inside the deletion's transaction (the
        # delete view's own; response_action's below for "delete selected").
        objects = list(queryset)
        entries = super().log_deletions(request, objects)  # type: ignore[arg-type]
        for obj in objects:
            audit_record(
                action="admin.delete", actor=request.user, obj=obj, before=_redacted(obj, _raw(obj))
            )
        return entries

    def response_action(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        action = _chosen_action(request)
        with transaction.atomic(using=queryset.db):
            if action == "delete_selected":  # audited object by object in log_deletions
                return super().response_action(request, queryset)
            selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
            across = request.POST.get("select_across") == "1"
            scope = queryset if across else queryset.filter(pk__in=selected)
            before = {str(o.pk): (o, _raw(o)) for o in scope[:ACTION_SNAPSHOT_LIMIT]}
            response = super().response_action(request, queryset)
            if response is None:  # no action chosen or nothing selected: nothing ran
                return response
            changed = 0
            for pk, (obj, raw_before) in before.items():
                old, new = _diff(obj, raw_before, _raw_from_db(obj))
                if old or new:
                    changed += 1
                    audit_record(
                        action="admin.action",
                        actor=request.user,
                        obj=obj,
                        object_id=pk,
                        before=old,
                        after={**new, "_action": action},
                    )
            if not changed:
                # An action with effects outside these rows (e.g. "run selected tasks"),
                # or a page asking for confirmation: still on record, with what was chosen.
                audit_record(
                    action="admin.action",
                    actor=request.user,
                    object_type=self.model._meta.label_lower,
                    after={"_action": action, "selected": sorted(before), "changed": 0},
                )
            return response


def _chosen_action(request: HttpRequest) -> str:
    # As ModelAdmin.response_action picks it: the form whose button was pressed.
    try:
        index = int(request.POST.get("index", 0))
    except ValueError:
        index = 0
    actions = request.POST.getlist("action")
    return actions[index] if 0 <= index < len(actions) else ""


def _raw(obj: models.Model) -> dict[str, Any]:
    model = type(obj)
    values: dict[str, Any] = {
        f.attname: f.value_from_object(obj) for f in model._meta.concrete_fields
    }
    for m2m in model._meta.many_to_many:
        if obj.pk is not None:
            values[m2m.name] = sorted(
                str(pk) for pk in getattr(obj, m2m.name).values_list("pk", flat=True)
            )
    raw: dict[str, Any] = json_safe(values)
    return raw


def _raw_from_db(obj: models.Model) -> dict[str, Any] | None:
    fresh = type(obj)._default_manager.filter(pk=obj.pk).first()
    return None if fresh is None else _raw(fresh)


def _redacted(obj: models.Model, raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    model = type(obj)
    return {
        name: REDACTED if _is_secret(model, name) and value not in (None, "") else value
        for name, value in raw.items()
    }


def _diff(
    obj: models.Model, raw_before: dict[str, Any] | None, raw_after: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The changed fields, old and new; a secret shows only that it changed."""
    before, after = raw_before or {}, raw_after or {}
    names = [name for name in {**before, **after} if before.get(name) != after.get(name)]
    model = type(obj)
    old = {n: REDACTED if _is_secret(model, n) else before.get(n) for n in names}
    new = {n: (REDACTED + " (changed)") if _is_secret(model, n) else after.get(n) for n in names}
    return old, new


class AuditedAdminSite(admin.AdminSite):
    """The default admin site: every ModelAdmin registered here is audited."""

    site_header = "MI Admin settings"
    site_title = "MI Admin"

    def register(
        self,
        model_or_iterable: Any,
        admin_class: type[admin.ModelAdmin[Any]] | None = None,
        **options: Any,
    ) -> None:
        base = admin_class or admin.ModelAdmin
        if not issubclass(base, AuditedModelAdminMixin):
            base = type(
                base.__name__, (AuditedModelAdminMixin, base), {"__module__": base.__module__}
            )
        super().register(model_or_iterable, base, **options)
