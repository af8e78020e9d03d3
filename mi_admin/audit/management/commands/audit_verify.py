"""``manage.py audit_verify``: check the audit trail's hash chain; exit 1 at the first break."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mi_admin.audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Walk the audit trail's hash chain and name the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_chain_verify()
        if report.broken is not None:
            raise CommandError(
                f"Audit chain broken at event {report.broken.event_id}: {report.broken.reason} "
                f"({report.checked} events before it verified)."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} events."))
