"""The release registry: recording a new release (each starts a one-week deadline for the
instances below it; see instances.versions)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from instances.choices import ReleaseKind
from instances.models import Release
from instances.versions import VERSION_RE
from mi_admin.audit.services import audit_record

logger = logging.getLogger(__name__)


class ReleaseError(ValueError):
    """The release cannot be recorded; the message says why, for a person to read."""


def release_validate(
    *, version: str, kind: str, released_at: datetime, release_id: int | None = None
) -> None:
    """The one place that says whether a release may be recorded (``release_create``, and
    the Django admin's add and change forms, call it): raises :class:`ReleaseError` with a
    message for a person. ``release_id`` is the release being edited, if any."""
    if not VERSION_RE.match(version):
        raise ReleaseError(
            f"{version!r} is not a version: use MAJOR.MINOR.PATCH digits, e.g. 6.9.1."
        )
    if kind not in ReleaseKind.values:
        raise ReleaseError(f"Unknown kind {kind!r}: use one of {', '.join(ReleaseKind.values)}.")
    if timezone.is_naive(released_at):
        raise ReleaseError("The release time needs a time zone, e.g. 2025-06-02T12:00:00+00:00.")
    if released_at > timezone.now():
        raise ReleaseError("The release time is in the future; record a release once it is out.")
    others = Release.objects.filter(version=version)
    if release_id is not None:
        others = others.exclude(pk=release_id)
    if others.exists():
        raise ReleaseError(f"Release {version} is already recorded.")


def release_create(
    *,
    version: str,
    kind: str,
    released_at: datetime | None = None,
    notes: str = "",
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> Release:
    """Record a release (audited). ``released_at`` defaults to now and may not be naive or
    in the future; the version must be MAJOR.MINOR.PATCH and not recorded yet."""
    version = version.strip()
    released_at = released_at or timezone.now()
    release_validate(version=version, kind=kind, released_at=released_at)
    try:
        with transaction.atomic():
            release = Release.objects.create(
                version=version, kind=kind, released_at=released_at, notes=notes
            )
            audit_record(
                action="release.created",
                actor=actor,
                actor_label=actor_label,
                obj=release,
                after={
                    "version": version,
                    "kind": kind,
                    "released_at": released_at,
                    "notes": notes,
                },
            )
    except IntegrityError as exc:  # recorded concurrently between the check and the insert
        raise ReleaseError(f"Release {version} is already recorded.") from exc
    logger.info("release %s (%s) recorded", version, kind)
    return release
