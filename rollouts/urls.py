from django.urls import path

from rollouts import views

app_name = "rollouts"

urlpatterns = [
    path("rollouts/", views.rollout_list, name="rollout_list"),
    path("rollouts/new/", views.rollout_new, name="rollout_new"),
    path("rollouts/freeze/", views.fleet_freeze, name="fleet_freeze"),
    path("rollouts/<int:pk>/", views.rollout_detail, name="rollout_detail"),
    path("rollouts/<int:pk>/report/", views.rollout_report, name="rollout_report"),
    path("rollouts/<int:pk>/report.csv", views.rollout_report_export, name="rollout_report_export"),
    path("rollouts/<int:pk>/action/", views.rollout_action, name="rollout_action"),
    path("rollouts/<int:pk>/plan/", views.rollout_plan_edit, name="rollout_plan_edit"),
    path(
        "rollouts/<int:pk>/targets/<int:target_pk>/",
        views.rollout_target_action,
        name="rollout_target_action",
    ),
]
