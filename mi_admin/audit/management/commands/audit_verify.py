"""``manage.py audit_verify``: check the audit trail against its hash chain and its signed
checkpoints; exit 1 naming every break. When intact, sign and record a new checkpoint."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mi_admin.audit.checkpoints import CheckpointClaim, parse_log_line
from mi_admin.audit.models import AuditCheckpoint
from mi_admin.audit.selectors import audit_chain_verify
from mi_admin.audit.services import audit_checkpoint_record


class Command(BaseCommand):
    help = (
        "Walk the audit trail's hash chain, check it against the signed checkpoints, name "
        "every broken link; record a new checkpoint when it is intact."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--expect",
            action="append",
            default=[],
            metavar="LOG_LINE",
            help="a checkpoint line from the application log (AUDIT_CHECKPOINT ...); the "
            "trail must still contain what it signed. May be given more than once.",
        )
        parser.add_argument(
            "--no-checkpoint", action="store_true", help="only verify; record no checkpoint"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            expect: list[CheckpointClaim] = [parse_log_line(line) for line in options["expect"]]
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        report = audit_chain_verify(expect=expect)
        if not report.ok:
            for link in report.breaks:
                self.stderr.write(f"broken at event {link.event_id}: {link.reason}")
            first = report.breaks[0]
            raise CommandError(
                f"Audit chain broken at event {first.event_id}: {first.reason} "
                f"({len(report.breaks)} break(s) in {report.checked} events, "
                f"{report.checkpoints} checkpoint(s) checked)."
            )
        message = (
            f"Audit chain intact: {report.checked} events, "
            f"{report.checkpoints} checkpoint(s) checked."
        )
        if not options["no_checkpoint"]:
            checkpoint = audit_checkpoint_record(reason=AuditCheckpoint.Reason.VERIFY)
            if checkpoint is not None:
                message += f" Signed checkpoint at event {checkpoint.last_event_id}."
        self.stdout.write(self.style.SUCCESS(message))
