from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Just-in-time access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from access import (  # noqa: F401 (extensions: its panel; metrics: its /metrics series)
            extensions,
            handlers,
            metrics,
            timeline_sources,
        )

        handlers.register()
        timeline_sources.register()
