from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "mi_admin.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # signals audits Django admin changes; dashboard registers the recent-events widget
        from mi_admin.audit import dashboard, signals  # noqa: F401
