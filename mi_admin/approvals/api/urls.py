"""/api/v1/ endpoints of the approval engine (mounted by mi_admin/urls.py)."""

from django.urls import path

from mi_admin.approvals.api import views

app_name = "approvals_api"

urlpatterns = [
    path("approvals/", views.ApprovalList.as_view(), name="approval_list"),
    path("approvals/<int:pk>/", views.ApprovalDetail.as_view(), name="approval_detail"),
]
