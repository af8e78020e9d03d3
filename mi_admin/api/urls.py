"""The API's own pages: the schema and the docs. Endpoints are mounted by mi_admin/urls.py
under ``/api/v1/`` from each app's ``<app>/api/urls.py``."""

from django.urls import path

from mi_admin.api.views import DocsView, SchemaView

app_name = "api"

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
]
