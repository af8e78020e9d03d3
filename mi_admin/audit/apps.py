from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "mi_admin.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from mi_admin.audit import dashboard, signals  # noqa: F401  (audits Django admin changes)

        dashboard.register()
