"""``manage.py add_release 6.9.1 --kind monthly [--released-at 2025-06-02T12:00:00Z]``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from instances.choices import ReleaseKind
from instances.services.releases import ReleaseError, release_create


def _parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(
            f"--released-at {text!r} is not an ISO 8601 date or time, "
            "e.g. 2025-06-02 or 2025-06-02T12:00:00+00:00."
        ) from exc
    # A bare date or time without an offset is taken as UTC (and the output says so).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Record a product release; the newest release sets every instance's deadline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", help="MAJOR.MINOR.PATCH, e.g. 6.9.1")
        parser.add_argument("--kind", required=True, choices=ReleaseKind.values)
        parser.add_argument(
            "--released-at",
            help="ISO 8601 time of the release (default: now); without an offset, UTC.",
        )
        parser.add_argument("--notes", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        released_at = options["released_at"]
        moment = _parse_moment(released_at) if released_at else None
        try:
            release = release_create(
                version=options["version"],
                kind=options["kind"],
                released_at=moment,
                notes=options["notes"],
                actor_label="manage.py add_release",
            )
        except ReleaseError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Recorded {release.get_kind_display().lower()} release {release.version}, "
                f"released {release.released_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC."
            )
        )
