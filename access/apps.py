from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Just-in-time access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from access import extensions, handlers, timeline_sources  # noqa: F401 (extensions registers its panel)

        handlers.register()
        timeline_sources.register()
