from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "instances"
    verbose_name = "Managed instances"

    def ready(self) -> None:
        from instances import extensions

        extensions.register()
