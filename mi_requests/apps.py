from django.apps import AppConfig


class MiRequestsConfig(AppConfig):
    name = "mi_requests"
    label = "mi_requests"
    verbose_name = "Requests"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mi_requests import (  # noqa: F401 (metrics registers its /metrics series)
            handlers,
            metrics,
            timeline_sources,
        )

        handlers.register()
        timeline_sources.register()
