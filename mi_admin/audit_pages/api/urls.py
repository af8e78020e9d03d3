"""/api/v1/ endpoints of the audit trail (mounted by mi_admin/urls.py)."""

from django.urls import path

from mi_admin.audit_pages.api import views

app_name = "audit_api"

urlpatterns = [
    path("audit/events/", views.AuditEventList.as_view(), name="event_list"),
    path("audit/events/export/", views.AuditEventExport.as_view(), name="event_export"),
]
