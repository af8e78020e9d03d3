"""Root URLconf. Every view here carries an authorization rule (mi_admin.accounts.rules)."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "MI Admin settings"
admin.site.site_title = "MI Admin"

urlpatterns = [
    path("", include("mi_admin.ui.urls")),
    path("", include("mi_admin.metrics.urls")),
    path("", include("mi_admin.accounts.urls")),
    path("audit/", include("mi_admin.audit_pages.urls")),
    path("", include("mi_admin.approvals.urls")),
    path("", include("instances.urls")),
    path("", include("health.urls")),
    path("", include("rollouts.urls")),
    path("", include("access.urls")),
    path("", include("mi_requests.urls")),
    path("admin/", admin.site.urls),
    # The JSON API: its schema and docs, and each app's endpoints (<app>/api/urls.py).
    path("api/", include("mi_admin.api.urls")),
    path("api/v1/", include("instances.api.urls")),
    path("api/v1/", include("access.api.urls")),
    path("api/v1/", include("rollouts.api.urls")),
    path("api/v1/", include("mi_admin.approvals.api.urls")),
    path("api/v1/", include("mi_admin.audit_pages.api.urls")),
    path("api/v1/", include("mi_requests.api.urls")),
    path("api/v1/", include("health.api.urls")),
]

# Under /api/ these answer application/problem+json; elsewhere Django's pages.
handler404 = "mi_admin.api.problems.not_found"
handler500 = "mi_admin.api.problems.server_error"
