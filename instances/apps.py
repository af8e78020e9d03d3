from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "instances"
    verbose_name = "Managed instances"

    def ready(self) -> None:
        from instances import (
            extensions,  # noqa: F401 (registers its columns, panels, widgets)
            metrics,  # noqa: F401 (registers its /metrics series)
            timeline_sources,
        )

        timeline_sources.register()
