from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "mi_admin.api"
    label = "mi_api"
    verbose_name = "API"

    def ready(self) -> None:
        from mi_admin.api import checks, schema  # noqa: F401 (a system check, schema extensions)
