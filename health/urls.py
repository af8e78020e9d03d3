from django.urls import path

from health import views

app_name = "health"

urlpatterns = [
    path("incidents/", views.incident_list, name="incident_list"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident_detail"),
    path(
        "incidents/<int:pk>/acknowledge/",
        views.incident_acknowledge,
        name="incident_acknowledge",
    ),
    path("incidents/<int:pk>/notes/", views.incident_note_add, name="incident_note_add"),
    path("reports/uptime/", views.uptime_report, name="uptime_report"),
    path("reports/uptime.csv", views.uptime_report_export, name="uptime_report_export"),
    path("reports/uptime/<slug:slug>/", views.uptime_report, name="instance_uptime_report"),
    path(
        "reports/uptime/<slug:slug>.csv",
        views.uptime_report_export,
        name="instance_uptime_report_export",
    ),
    path("health/<slug:slug>/", views.instance_health, name="instance_health"),
    path("health/<slug:slug>/windows/add/", views.window_add, name="window_add"),
    path("health/<slug:slug>/windows/<int:pk>/delete/", views.window_delete, name="window_delete"),
    path("health/<slug:slug>/mark-maintenance/", views.mark_maintenance, name="mark_maintenance"),
]
