"""/api/v1/ endpoints of access grants (mounted by mi_admin/urls.py)."""

from django.urls import path

from access.api import views

app_name = "access_api"

urlpatterns = [
    path("access/grants/", views.GrantList.as_view(), name="grant_list"),
    path("access/grants/<int:pk>/", views.GrantDetail.as_view(), name="grant_detail"),
    path("access/grants/<int:pk>/review/", views.GrantReview.as_view(), name="grant_review"),
    path("access/grants/<int:pk>/end/", views.GrantEnd.as_view(), name="grant_end"),
]
