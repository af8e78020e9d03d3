"""/api/v1/ endpoints of fleet health (mounted by mi_admin/urls.py)."""

from django.urls import path

from health.api import views

app_name = "health_api"

urlpatterns = [
    path("incidents/", views.IncidentList.as_view(), name="incident_list"),
    path("instances/<slug:slug>/uptime/", views.InstanceUptime.as_view(), name="instance_uptime"),
]
