from django.urls import path, re_path

from mi_admin.audit_pages import views

app_name = "audit"

urlpatterns = [
    path("", views.event_list, name="event_list"),
    re_path(r"^export\.(?P<fmt>csv|json)$", views.event_export, name="event_export"),
]
