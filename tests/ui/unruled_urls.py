"""A URLconf with one view that forgot its rule, for the system-check test."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def unruled(request: HttpRequest) -> HttpResponse:
    return HttpResponse("forgot")


urlpatterns = [path("unruled/", unruled, name="unruled")]
