from django.urls import path

from instances import views

app_name = "instances"

urlpatterns = [
    path("instances/", views.instance_list, name="instance_list"),
    path("instances/export.csv", views.instance_export, name="instance_export"),
    path("instances/sync/", views.fleet_sync, name="fleet_sync"),
    path("instances/<slug:slug>/", views.instance_detail, name="instance_detail"),
    path("instances/<slug:slug>/sync/", views.instance_sync, name="instance_sync"),
    path("instances/<slug:slug>/upgrade/", views.instance_upgrade, name="instance_upgrade"),
    path("instances/<slug:slug>/rollback/", views.instance_rollback, name="instance_rollback"),
    path("instances/<slug:slug>/suspend/", views.instance_suspend_view, name="instance_suspend"),
    path("instances/<slug:slug>/resume/", views.instance_resume_view, name="instance_resume"),
    path("instances/<slug:slug>/teardown/", views.instance_teardown, name="instance_teardown"),
    path("operations/<int:pk>/cancel/", views.teardown_cancel, name="teardown_cancel"),
    path("deletion-records/<int:pk>/", views.deletion_record, name="deletion_record"),
    path("operations/", views.operation_list, name="operation_list"),
    path("operations/<int:pk>/", views.operation_detail, name="operation_detail"),
]
