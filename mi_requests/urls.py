from django.urls import path

from mi_requests import views

app_name = "mi_requests"

urlpatterns = [
    path("requests/", views.request_list, name="list"),
    path("requests/new/", views.request_new, name="new"),
    path("requests/sla/", views.sla_report, name="sla_report"),
    path("requests/sla/export.csv", views.sla_report_export, name="sla_report_export"),
    path("requests/<int:pk>/", views.request_detail, name="detail"),
    path("requests/<int:pk>/handle/", views.request_handle, name="handle"),
    path("requests/<int:pk>/respond/", views.request_respond, name="respond"),
]
