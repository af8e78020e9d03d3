"""/api/v1/ endpoints of customer requests (mounted by mi_admin/urls.py)."""

from django.urls import path

from mi_requests.api import views

app_name = "mi_requests_api"

urlpatterns = [
    path("requests/", views.RequestList.as_view(), name="request_list"),
    path("requests/<int:pk>/", views.RequestDetail.as_view(), name="request_detail"),
    path("requests/<int:pk>/act/", views.RequestAct.as_view(), name="request_act"),
]
