from django.urls import path

from instances import provisioning_views, timeline_views, views

app_name = "instances"

urlpatterns = [
    path("instances/", views.instance_list, name="instance_list"),
    path("instances/export.csv", views.instance_export, name="instance_export"),
    # Not "instances/<slug>/...": an instance may be called anything.
    path("instances/table/columns/", views.instance_list_columns, name="instance_list_columns"),
    path("instances/sync/", views.fleet_sync, name="fleet_sync"),
    path("instances/<slug:slug>/", views.instance_detail, name="instance_detail"),
    path(
        "instances/<slug:slug>/timeline/",
        timeline_views.instance_timeline_page,
        name="instance_timeline",
    ),
    path(
        "instances/<slug:slug>/timeline.csv",
        timeline_views.instance_timeline_export,
        name="instance_timeline_export",
    ),
    path("instances/<slug:slug>/sync/", views.instance_sync, name="instance_sync"),
    path("instances/<slug:slug>/upgrade/", views.instance_upgrade, name="instance_upgrade"),
    path("instances/<slug:slug>/rollback/", views.instance_rollback, name="instance_rollback"),
    # Provisioning and trials (instances/provisioning_views.py).
    path("provisioning/", provisioning_views.provisioning_page, name="provisioning_list"),
    path("provisioning/new/", provisioning_views.provision_new, name="provision_new"),
    path(
        "instances/<slug:slug>/checklist/tick/",
        provisioning_views.provisioning_tick,
        name="provisioning_tick",
    ),
    path(
        "instances/<slug:slug>/checklist/untick/",
        provisioning_views.provisioning_untick,
        name="provisioning_untick",
    ),
    path(
        "instances/<slug:slug>/checklist/verify/",
        provisioning_views.provisioning_verify,
        name="provisioning_verify",
    ),
    path("instances/<slug:slug>/trial/end/", provisioning_views.trial_end, name="trial_end"),
    path(
        "instances/<slug:slug>/trial/convert/",
        provisioning_views.trial_convert,
        name="trial_convert",
    ),
    path("instances/<slug:slug>/owner/", provisioning_views.instance_owner, name="instance_owner"),
    path(
        "instances/<slug:slug>/maintenance-window/",
        views.instance_maintenance_window,
        name="instance_maintenance_window",
    ),
    path("instances/<slug:slug>/suspend/", views.instance_suspend_view, name="instance_suspend"),
    path("instances/<slug:slug>/resume/", views.instance_resume_view, name="instance_resume"),
    path("instances/<slug:slug>/teardown/", views.instance_teardown, name="instance_teardown"),
    path("operations/<int:pk>/cancel/", views.teardown_cancel, name="teardown_cancel"),
    path("deletion-records/<int:pk>/", views.deletion_record, name="deletion_record"),
    path("operations/", views.operation_list, name="operation_list"),
    path("operations/<int:pk>/", views.operation_detail, name="operation_detail"),
]
