from django.apps import AppConfig


class AuditPagesConfig(AppConfig):
    name = "mi_admin.audit_pages"
    label = "audit_pages"
    verbose_name = "Audit trail pages"

    def ready(self) -> None:
        # dashboard registers the recent-events widget on the dashboard
        from mi_admin.audit_pages import dashboard  # noqa: F401
