from django.urls import path

from health import views

app_name = "health"

urlpatterns = [
    path("health/<slug:slug>/", views.instance_health, name="instance_health"),
    path("health/<slug:slug>/windows/add/", views.window_add, name="window_add"),
    path("health/<slug:slug>/windows/<int:pk>/delete/", views.window_delete, name="window_delete"),
    path("health/<slug:slug>/mark-maintenance/", views.mark_maintenance, name="mark_maintenance"),
]
