from django.apps import AppConfig


class MiRequestsConfig(AppConfig):
    name = "mi_requests"
    label = "mi_requests"
    verbose_name = "Requests and approvals"
