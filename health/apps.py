from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health and SLAs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from health import (
            extensions,  # noqa: F401 (registers its columns, panels, widgets)
            metrics,  # noqa: F401 (registers its /metrics series)
            timeline_sources,
        )
        from health.lifecycle import lifecycle_operation_finished
        from instances.services.operations import register_finished_listener

        register_finished_listener(lifecycle_operation_finished)
        timeline_sources.register()
