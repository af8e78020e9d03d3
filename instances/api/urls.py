"""/api/v1/ endpoints of the fleet (mounted by mi_admin/urls.py)."""

from django.urls import path

from instances.api import views

app_name = "instances_api"

urlpatterns = [
    path("instances/", views.InstanceList.as_view(), name="instance_list"),
    path("instances/<slug:slug>/", views.InstanceDetail.as_view(), name="instance_detail"),
    path("instances/<slug:slug>/sync/", views.InstanceSync.as_view(), name="instance_sync"),
    path(
        "instances/<slug:slug>/upgrade/", views.InstanceUpgrade.as_view(), name="instance_upgrade"
    ),
    path(
        "instances/<slug:slug>/suspend/", views.InstanceSuspend.as_view(), name="instance_suspend"
    ),
    path("instances/<slug:slug>/resume/", views.InstanceResume.as_view(), name="instance_resume"),
    path(
        "instances/<slug:slug>/teardown/",
        views.InstanceTeardown.as_view(),
        name="instance_teardown",
    ),
    path("releases/", views.ReleaseList.as_view(), name="release_list"),
    path("operations/<int:pk>/", views.OperationDetail.as_view(), name="operation_detail"),
]
