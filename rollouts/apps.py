from django.apps import AppConfig


class RolloutsConfig(AppConfig):
    name = "rollouts"
    verbose_name = "Rollouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from rollouts import handlers, timeline_sources

        handlers.register()
        timeline_sources.register()
