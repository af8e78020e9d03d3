from django.urls import path

from access import views

app_name = "access"

urlpatterns = [
    path("access/", views.my_access, name="mine"),
    path("access/request/<slug:slug>/", views.request_access, name="request"),
    path("access/grants/", views.grant_list, name="grant_list"),
    path("access/grants/export.<str:fmt>", views.grant_export, name="grant_export"),
    path("access/grants/<int:pk>/", views.grant_detail, name="grant"),
    path("access/grants/<int:pk>/done/", views.grant_done, name="done"),
    path("access/grants/<int:pk>/extend/", views.grant_extend, name="extend"),
    path("access/grants/<int:pk>/revoke/", views.grant_revoke, name="revoke"),
]
