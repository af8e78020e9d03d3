"""/api/v1/ endpoints of rollouts (mounted by mi_admin/urls.py)."""

from django.urls import path

from rollouts.api import views

app_name = "rollouts_api"

urlpatterns = [
    path("rollouts/", views.RolloutList.as_view(), name="rollout_list"),
    path("rollouts/<int:pk>/", views.RolloutDetail.as_view(), name="rollout_detail"),
    path("rollouts/<int:pk>/start/", views.RolloutStart.as_view(), name="rollout_start"),
    path("rollouts/<int:pk>/pause/", views.RolloutPause.as_view(), name="rollout_pause"),
    path("rollouts/<int:pk>/resume/", views.RolloutResume.as_view(), name="rollout_resume"),
    path("rollouts/<int:pk>/abort/", views.RolloutAbort.as_view(), name="rollout_abort"),
]
