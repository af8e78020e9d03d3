from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AuditConfig(AppConfig):
    default = True
    name = "mi_admin.audit"
    label = "audit"
    verbose_name = "Audit trail"


class AuditedAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` whose ``admin.site`` audits every admin action
    (:class:`mi_admin.audit.admin_site.AuditedAdminSite`)."""

    default = False
    default_site = "mi_admin.audit.admin_site.AuditedAdminSite"
