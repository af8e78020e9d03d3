from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AuditConfig(AppConfig):
    default = True
    name = "mi_admin.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # dashboard registers the recent-events widget on the dashboard
        from mi_admin.audit import dashboard  # noqa: F401


class AuditedAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` whose ``admin.site`` audits every admin action
    (:class:`mi_admin.audit.admin_site.AuditedAdminSite`)."""

    default = False
    default_site = "mi_admin.audit.admin_site.AuditedAdminSite"
